"""Contracts between services: event models and API models. Ids and codes only, never personal data."""
