"""One controller per resource: parse, authorise, dispatch, return."""
