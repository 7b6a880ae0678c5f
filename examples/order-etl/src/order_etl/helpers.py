"""Plain helpers used by the tasks (no cloaca decorators here)."""


def is_valid(order: dict) -> bool:
    return order.get("amount", 0) > 0 and "id" in order
