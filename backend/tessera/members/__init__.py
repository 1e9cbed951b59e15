"""Member cards: one per customer, shown at the till to look up the customer's open coupons."""
