"""The fault model: fault kinds and their parameters, targets, schedules, and the nemesis that applies them."""
