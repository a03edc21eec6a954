"""The Python API: a custom executor and a small tree on the embedded SQLite default.

Run it with ``python examples/python_api.py``. It fans out three tasks, joins
their results, and shows where the database lives. Everything it uses is imported from
``taskflow`` itself: the public API.
"""

from __future__ import annotations

import asyncio
import json

from taskflow import BaseTask, TaskManager, create_session, executor_register


@executor_register()
class WordCount(BaseTask):
    """Counts the words of a text."""

    id = "demo.word_count"
    input_schema = {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "What to count."}},
        "required": ["text"],
    }

    async def execute(self, inputs: dict) -> dict:
        return {"words": len(inputs["text"].split())}


TREE = {
    "name": "Count words in three texts, then add them up",
    "key": "word_counts",
    "children": [
        {
            "key": "a",
            "executor": "demo.word_count",
            "inputs": {"text": "the tree is the unit of work"},
        },
        {
            "key": "b",
            "executor": "demo.word_count",
            "inputs": {"text": "dependencies order execution"},
        },
        {"key": "c", "executor": "demo.word_count", "inputs": {"text": "results flow along edges"}},
        {
            "key": "total",
            "executor": "python.call",
            "dependencies": ["a", "b", "c"],
            "inputs": {
                "function": "builtins:sum",
                "args": [["${a.result.words}", "${b.result.words}", "${c.result.words}"]],
            },
        },
        {"key": "all", "executor": "aggregate", "dependencies": ["a", "b", "c", "total"]},
    ],
}


async def main() -> None:
    db = create_session()
    manager = TaskManager(db)
    tree = await manager.run_tree(TREE, user_id="demo")
    print(f"database: {db.url}")
    for node in tree.walk():
        task = node.task
        outcome = json.dumps(node.result) if task.error is None else task.error
        print(f"  {task.key:<44} {task.status.value:<10} {outcome}")
    print(f"tree {tree.task.id}: {tree.calculate_status().value}")
    await manager.close()


if __name__ == "__main__":
    asyncio.run(main())
