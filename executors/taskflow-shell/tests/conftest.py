"""The executor author's kit provides the fixtures (task_manager) and helpers."""

pytest_plugins = ["taskflow.testing"]
