"""Synthetic people and places: names, addresses, phones, insurance, identifiers.

All randomness comes from the caller's seeded ``random.Random`` and one Faker instance re-seeded
from it, so a seed always gives the same people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker

# The simulated clinic is in Arizona, which keeps no daylight saving time: one fixed UTC offset.
CLINIC_TZ = "-07:00"
CLINIC_STATE = "AZ"
AREA_CODES = ("480", "520", "602", "623", "928")

CLINICS = (
    ("Desert Bloom Family Medicine", "1450 W Camelback Rd", "Phoenix", "85013"),
    ("Saguaro Valley Primary Care", "2210 E Speedway Blvd", "Tucson", "85719"),
    ("Red Rock Community Clinic", "75 Coffee Pot Dr", "Sedona", "86336"),
)
HOSPITALS = (
    ("Mesa Verde General Hospital", "500 N Center St", "Mesa", "85201"),
    ("Copper State Medical Center", "3300 N Central Ave", "Phoenix", "85012"),
)
PRIVATE_PAYERS = (
    "Cactus Mutual Health Plan", "Sonoran Blue Health", "Grand Canyon Care Alliance", "Pinnacle Peak Health Insurance",
)
CREDENTIALS = ("MD", "DO", "NP", "PA-C")


@dataclass(frozen=True)
class Person:
    given: str
    middle: str
    family: str
    sex: str  # "female" | "male"
    street: str
    apartment: str
    city: str
    state: str
    zip: str
    phone: str


_faker = Faker("en_US")


def faker_for(rng: random.Random) -> Faker:
    """The shared Faker, re-seeded from ``rng`` (generation is single-threaded per process)."""
    _faker.seed_instance(rng.getrandbits(64))
    return _faker


def phone_number(rng: random.Random) -> str:
    return f"({rng.choice(AREA_CODES)}) {rng.randint(200, 989)}-{rng.randint(0, 9999):04d}"


def make_person(rng: random.Random, sex: str) -> Person:
    fake = faker_for(rng)
    given = fake.first_name_female() if sex == "female" else fake.first_name_male()
    middle = (fake.first_name_female() if sex == "female" else fake.first_name_male())[0] if rng.random() < 0.6 else ""
    apartment = f"Apt {rng.randint(1, 40)}{rng.choice('ABCD')}" if rng.random() < 0.25 else ""
    return Person(
        given=given, middle=middle, family=fake.last_name(), sex=sex,
        street=f"{rng.randint(100, 9899)} {fake.street_name()}", apartment=apartment,
        city=fake.city(), state=CLINIC_STATE, zip=fake.zipcode_in_state(CLINIC_STATE), phone=phone_number(rng),
    )


def npi(rng: random.Random) -> str:
    """A ten-digit National Provider Identifier with a valid Luhn check digit (prefix 80840)."""
    body = "1" + "".join(str(rng.randint(0, 9)) for _ in range(8))
    digits = [int(d) for d in "80840" + body]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body + str((10 - total % 10) % 10)


def member_id(rng: random.Random, payer: str) -> str:
    if payer == "Medicare":
        # Medicare Beneficiary Identifier shape: 1EG4-TE5-MK73 (no S, L, O, I, B, Z)
        letters = "ACDEFGHJKMNPQRTUVWXY"
        pattern = "NAXNAXNAANN"
        chars = [str(rng.randint(1, 9)) if i == 0 else
                 rng.choice(letters) if p == "A" else
                 str(rng.randint(0, 9)) if p == "N" else rng.choice(letters + "0123456789")
                 for i, p in enumerate(pattern)]
        return "".join(chars)
    prefix = {"Arizona Medicaid (AHCCCS)": "A"}.get(payer, rng.choice("HJKMW"))
    return prefix + "".join(str(rng.randint(0, 9)) for _ in range(8))


def payer_for(rng: random.Random, age: int) -> str:
    if age >= 65:
        return "Medicare"
    if rng.random() < (0.45 if age < 18 else 0.2):
        return "Arizona Medicaid (AHCCCS)"
    return rng.choice(PRIVATE_PAYERS)
