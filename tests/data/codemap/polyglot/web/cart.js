export class Cart {
  constructor(owner) {
    this.owner = owner;
    this.lines = [];
  }

  addLine(sku, quantity = 1) {
    this.lines.push({ sku, quantity });
  }
}

export function cartTotal(cart, prices) {
  return cart.lines.reduce((sum, l) => sum + prices[l.sku] * l.quantity, 0);
}

const emptyCart = (owner) => new Cart(owner);
