"""The domain core: policy, money, calendar, rules and use cases. Imports nothing from Flask."""
