"""The generation pipeline: SOP extraction, embeddings, retrieval, drafting.

Not built yet: no issue has asked for it.
"""
