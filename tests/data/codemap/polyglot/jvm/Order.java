package shop;

import java.util.List;

public class Order {
    private final List<String> skus;

    public Order(List<String> skus) {
        this.skus = skus;
    }

    @Override
    public String toString() {
        return "Order" + skus;
    }

    public int size() {
        return skus.size();
    }

    public interface Visitor {
        void visit(Order order);
    }
}
