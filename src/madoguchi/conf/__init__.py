"""Settings of the platform. Every value comes from a ``MADOGUCHI_*`` environment variable."""
