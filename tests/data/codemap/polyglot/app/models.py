"""Inventory models."""

from dataclasses import dataclass

MAX_ITEMS = 100


@dataclass(frozen=True)
class Item:
    name: str
    price: float

    def total(self, quantity: int = 1) -> float:
        return self.price * quantity


class Inventory:
    default_owner = "store"

    def __init__(self, items: list[Item]) -> None:
        self.items = items

    @property
    def count(self) -> int:
        return len(self.items)

    @staticmethod
    def parse_line(
        line: str,
        sep: str = ",",
    ) -> Item:
        name, price = line.split(sep)
        return Item(name, float(price))


def load_inventory(path: str) -> Inventory:
    with open(path) as f:
        return Inventory([Inventory.parse_line(line) for line in f])
