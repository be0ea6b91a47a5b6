"""Commands that live in their own modules. Each exposes ``register(app)``; importing one must stay cheap
(heavy imports go inside the command body) because the CLI imports all of them at start-up."""
