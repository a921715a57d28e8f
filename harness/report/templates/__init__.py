"""Templates of the HTML report (a package only so that its files ship in a wheel)."""
