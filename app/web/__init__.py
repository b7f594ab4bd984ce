"""Helpers shared by the HTML blueprints: filters, dynamic forms, access decorators."""
