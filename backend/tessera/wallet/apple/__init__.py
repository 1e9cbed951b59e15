"""Apple Wallet coupon passes, their web service and update pushes."""
