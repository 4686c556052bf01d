"""Madoguchi (窓口): a shared-use online application platform for Japanese local governments."""

__version__ = "0.1.0"
