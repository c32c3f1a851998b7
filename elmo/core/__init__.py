"""The house rules every stage follows: typed config and profiles, run folders, seeding and provenance,
figure saving, experiment tracking. Imports nothing else from `elmo`.
"""
