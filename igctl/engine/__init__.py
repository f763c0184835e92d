"""All domain logic. Nothing here imports click or bottle."""
