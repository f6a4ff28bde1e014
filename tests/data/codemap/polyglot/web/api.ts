export interface PriceList {
  currency: string;
  lookup(sku: string): number;
}

export type Sku = string;

export enum Channel {
  Web,
  Store,
}

export class PriceService implements PriceList {
  currency = "EUR";

  lookup(sku: Sku): number {
    return sku.length;
  }

  async refresh(channel: Channel, force?: boolean): Promise<void> {
    return;
  }
}

export function makePriceService(): PriceService {
  return new PriceService();
}
