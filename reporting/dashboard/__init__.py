"""The reports dashboard (/dashboard/): one page over the read model, for analysts."""
