"""The generation pipeline: SOP extraction, chunking, embeddings, retrieval, drafting, and the
order worker (`genpipeline.worker`) that turns an accepted order into a course draft in review."""
