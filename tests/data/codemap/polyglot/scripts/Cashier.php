<?php

namespace Shop;

interface Register
{
    public function open(): void;
}

class Cashier implements Register
{
    public function open(): void
    {
    }

    public function charge(int $cents, string $currency = "EUR"): bool
    {
        return $cents > 0;
    }
}

function make_cashier(): Cashier
{
    return new Cashier();
}
