"""The read side: projectors that fold events into read models, and the queries over them."""
