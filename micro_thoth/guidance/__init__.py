"""Guidance: which releases a resolution may use and prefers, and why (recommendation types,
prescriptions, vulnerability advisories, licence policy, the report, typo-squatting checks)."""
