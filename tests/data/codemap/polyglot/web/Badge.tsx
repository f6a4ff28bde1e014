import { PriceService } from "./api";

type BadgeProps = { sku: string; service: PriceService };

export function Badge({ sku, service }: BadgeProps): JSX.Element {
  return <span>{service.lookup(sku)}</span>;
}
