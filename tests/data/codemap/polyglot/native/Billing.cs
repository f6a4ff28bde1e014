using System.Collections.Generic;

namespace Shop.Billing
{
    public interface IInvoice
    {
        decimal Total();
    }

    public class Invoice : IInvoice
    {
        public string Number { get; set; }

        [Obsolete("use Total")]
        public decimal Sum(IEnumerable<decimal> lines) => 0m;

        public decimal Total()
        {
            return 0m;
        }
    }
}
