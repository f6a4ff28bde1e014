package shop

data class Parcel(val weight: Double, val dest: String)

class Shipping(private val rate: Double) {
    fun cost(parcel: Parcel): Double {
        return parcel.weight * rate
    }

    companion object {
        fun standard(): Shipping = Shipping(1.5)
    }
}

fun quote(parcels: List<Parcel>, shipping: Shipping): Double =
    parcels.sumOf { shipping.cost(it) }
