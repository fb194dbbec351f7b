"""The visibility API (DESIGN section 5): a trusted account reads and works, live, the
requests a trusting account raised on its offerings. Nothing is copied: the trusting
node answers every call from its own records, and the trusted node keeps no state."""
