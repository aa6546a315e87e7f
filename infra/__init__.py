"""The infrastructure both apps use: errors, parsers, authentication, logging, read replicas and
routing, and the PostgreSQL the project runs on (embedded or a server). It imports neither app;
`config/` (the composition root) and the apps import it."""
