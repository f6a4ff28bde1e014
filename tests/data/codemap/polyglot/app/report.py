from app.models import Inventory, load_inventory


def render_report(inventory: Inventory) -> str:
    return f"{inventory.count} items"


def main(path: str) -> None:
    print(render_report(load_inventory(path)))
