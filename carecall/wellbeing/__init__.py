"""Wellbeing: how the person called is doing, during a call and from call to call."""
