"""ovsdbus's tests; a package so that both pytest and trial (``trial tests``) find them."""
