import unittest

from common.money import format_minor_units, to_minor_units


class MoneyTest(unittest.TestCase):
    def test_minor_units(self):
        self.assertEqual(to_minor_units("12.34"), 1234)
        self.assertEqual(format_minor_units(1234, "GBP"), "GBP 12.34")

    def test_rejects_fractions_of_a_penny(self):
        with self.assertRaises(ValueError):
            to_minor_units("0.001")


if __name__ == "__main__":
    unittest.main()
