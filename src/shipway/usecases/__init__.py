"""Use cases that outgrew app.py: environments, plan, rollback, release pruning. Each
takes the parts `App` wires together (the repository, its state paths, the store)."""
