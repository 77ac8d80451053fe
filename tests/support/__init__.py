"""Test helpers shared by the tiers."""
