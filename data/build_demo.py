"""Build the Text-to-SQL Studio demo databases (stdlib only, deterministic).

Four small SQLite databases with declared types, primary and foreign keys and
realistic, seeded data: ``concert_singer``, ``library``, ``shop`` and ``school``.
Running the script twice gives identical table contents.

    python data/build_demo.py            # rebuild data/demo/databases/*.sqlite
    python data/build_demo.py --stats    # print table sizes and question counts
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DATABASES_DIR = DEMO_DIR / "databases"
QUESTIONS_PATH = DEMO_DIR / "questions.json"

Row = tuple[object, ...]
Tables = dict[str, list[Row]]

# --------------------------------------------------------------------------- names

FIRST_NAMES = {
    "France": ["Camille", "Julien", "Manon", "Antoine", "Lea", "Hugo", "Ines", "Louis", "Margaux"],
    "United Kingdom": ["Oliver", "Amelia", "Harry", "Isla", "George", "Poppy", "Jack", "Freya"],
    "United States": ["Emma", "Liam", "Olivia", "Noah", "Ava", "Mason", "Harper", "Ethan"],
    "Germany": ["Lukas", "Hannah", "Felix", "Lena", "Jonas", "Marie", "Paul", "Clara"],
    "Spain": ["Lucia", "Hugo", "Martina", "Pablo", "Sofia", "Alvaro", "Carmen", "Diego"],
    "Italy": ["Giulia", "Lorenzo", "Chiara", "Matteo", "Alessia", "Davide", "Elena", "Marco"],
    "Japan": ["Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Kaito", "Sakura"],
    "Brazil": ["Gabriel", "Ana", "Rafael", "Beatriz", "Lucas", "Mariana", "Thiago", "Larissa"],
    "Canada": ["Liam", "Charlotte", "Owen", "Chloe", "Nathan", "Maya", "Logan", "Avery"],
    "Australia": ["Jack", "Mia", "Cooper", "Ruby", "Lachlan", "Matilda", "Riley", "Zoe"],
    "South Korea": ["Minjun", "Seoyeon", "Jiho", "Hayoon", "Dohyun", "Jiwoo", "Yejun", "Suah"],
    "Mexico": ["Santiago", "Valentina", "Mateo", "Regina", "Emiliano", "Ximena", "Leonardo"],
    "Sweden": ["Elias", "Alice", "William", "Maja", "Oscar", "Elsa", "Hugo", "Astrid"],
}
LAST_NAMES = {
    "France": ["Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefevre", "Fournier", "Girard"],
    "United Kingdom": ["Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Walker", "Hughes"],
    "United States": [
        "Johnson",
        "Miller",
        "Davis",
        "Garcia",
        "Rodriguez",
        "Clark",
        "Lewis",
        "Hall",
    ],
    "Germany": ["Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Wagner", "Koch"],
    "Spain": ["Garcia", "Fernandez", "Lopez", "Martinez", "Sanchez", "Romero", "Navarro", "Torres"],
    "Italy": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"],
    "Japan": ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"],
    "Brazil": ["Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Almeida"],
    "Canada": ["Tremblay", "Roy", "Gagnon", "Campbell", "MacDonald", "Wong", "Leblanc", "Scott"],
    "Australia": ["Kelly", "Murphy", "Ryan", "Mitchell", "Harris", "King", "Baker", "Cooper"],
    "South Korea": ["Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon"],
    "Mexico": ["Hernandez", "Gonzalez", "Ramirez", "Flores", "Cruz", "Morales", "Reyes", "Ortiz"],
    "Sweden": ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson"],
}
FEMALE_FIRST_NAMES = frozenset(
    {
        "Camille",
        "Manon",
        "Lea",
        "Ines",
        "Margaux",
        "Amelia",
        "Isla",
        "Poppy",
        "Freya",
        "Emma",
        "Olivia",
        "Ava",
        "Harper",
        "Hannah",
        "Lena",
        "Marie",
        "Clara",
        "Lucia",
        "Martina",
        "Sofia",
        "Carmen",
        "Giulia",
        "Chiara",
        "Alessia",
        "Elena",
        "Yui",
        "Aoi",
        "Hina",
        "Sakura",
        "Ana",
        "Beatriz",
        "Mariana",
        "Larissa",
        "Charlotte",
        "Chloe",
        "Maya",
        "Avery",
        "Mia",
        "Ruby",
        "Matilda",
        "Zoe",
        "Seoyeon",
        "Hayoon",
        "Jiwoo",
        "Suah",
        "Valentina",
        "Regina",
        "Ximena",
        "Alice",
        "Maja",
        "Elsa",
        "Astrid",
    }
)
PHONE_PREFIXES = {
    "United States": "+1",
    "Canada": "+1",
    "United Kingdom": "+44",
    "Germany": "+49",
    "France": "+33",
    "Spain": "+34",
    "Italy": "+39",
    "Japan": "+81",
}


def gender_of(name: str) -> str:
    """'female' or 'male' from the first name of a generated person."""
    return "female" if name.split(" ", 1)[0] in FEMALE_FIRST_NAMES else "male"


def unique_person_names(rng: random.Random, countries: Sequence[str]) -> list[str]:
    """One distinct 'First Last' name per entry of ``countries``, drawn from that country's pool."""
    names: list[str] = []
    taken: set[str] = set()
    for country in countries:
        free = [f"{first} {last}" for first in FIRST_NAMES[country] for last in LAST_NAMES[country]]
        name = rng.choice([n for n in free if n not in taken])
        taken.add(name)
        names.append(name)
    return names


def random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    """A uniformly drawn date between ``start`` and ``end`` inclusive."""
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def email_for(name: str, domain: str) -> str:
    """A plausible e-mail address for a person's name."""
    return f"{name.lower().replace(' ', '.').replace(chr(39), '')}@{domain}"


# ------------------------------------------------------------------ concert_singer

CONCERT_SINGER_DDL = """
CREATE TABLE stadium (
    stadium_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    city TEXT NOT NULL,
    country TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    opening_year INTEGER
);
CREATE TABLE singer (
    singer_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    country TEXT NOT NULL,
    age INTEGER,
    gender TEXT NOT NULL,
    genre TEXT NOT NULL,
    debut_year INTEGER
);
CREATE TABLE concert (
    concert_id INTEGER PRIMARY KEY,
    concert_name TEXT NOT NULL,
    theme TEXT NOT NULL,
    stadium_id INTEGER NOT NULL REFERENCES stadium (stadium_id),
    concert_date TEXT NOT NULL,
    ticket_price REAL NOT NULL,
    attendance INTEGER
);
CREATE TABLE singer_in_concert (
    concert_id INTEGER NOT NULL REFERENCES concert (concert_id),
    singer_id INTEGER NOT NULL REFERENCES singer (singer_id),
    PRIMARY KEY (concert_id, singer_id)
);
"""

STADIUMS = [
    ("Wembley Stadium", "London", "United Kingdom", 90000, 2007),
    ("Stade de France", "Saint-Denis", "France", 80698, 1998),
    ("Allianz Arena", "Munich", "Germany", 75024, 2005),
    ("Camp Nou", "Barcelona", "Spain", 99354, 1957),
    ("Estadio Azteca", "Mexico City", "Mexico", 87523, 1966),
    ("Maracana Stadium", "Rio de Janeiro", "Brazil", 78838, 1950),
    ("Tokyo Dome", "Tokyo", "Japan", 55000, 1988),
    ("MetLife Stadium", "East Rutherford", "United States", 82500, 2010),
    ("Rose Bowl", "Pasadena", "United States", 89702, 1922),
    ("Melbourne Cricket Ground", "Melbourne", "Australia", 100024, 1853),
    ("Olympiastadion", "Berlin", "Germany", 74475, 1936),
    ("San Siro", "Milan", "Italy", 75817, 1926),
    ("Johan Cruijff Arena", "Amsterdam", "Netherlands", 55500, 1996),
    ("Rogers Centre", "Toronto", "Canada", 49282, 1989),
    ("Principality Stadium", "Cardiff", "United Kingdom", 73931, 1999),
    ("Groupama Stadium", "Lyon", "France", 59186, 2016),
    ("Friends Arena", "Stockholm", "Sweden", 50000, 2012),
    ("Accor Stadium", "Sydney", "Australia", 83500, None),
    ("Santiago Bernabeu", "Madrid", "Spain", 83186, 1947),
    ("Seoul Olympic Stadium", "Seoul", "South Korea", 69950, 1984),
]
SINGER_COUNTRIES = (
    ["France"] * 7
    + ["United States"] * 9
    + ["United Kingdom"] * 7
    + ["Germany"] * 4
    + ["Spain"] * 4
    + ["Italy"] * 4
    + ["Japan"] * 4
    + ["Brazil"] * 4
    + ["Canada"] * 4
    + ["Australia"] * 3
    + ["South Korea"] * 4
    + ["Mexico"] * 3
    + ["Sweden"] * 3
)
GENRES = ["Pop", "Rock", "Jazz", "Hip Hop", "Country", "Electronic", "Classical", "R&B", "Folk"]
THEMES = [
    "Summer Nights",
    "Greatest Hits",
    "Unplugged",
    "World Tour",
    "Charity Gala",
    "New Year",
    "Festival",
    "Anniversary",
    "Acoustic Sessions",
    "Farewell",
]


def concert_date(rng: random.Random, theme: str, year: int) -> dt.date:
    """A date in ``year`` that suits the concert theme (New Year's Eve, summer, any day)."""
    if theme == "New Year":
        return dt.date(year, 12, 31)
    if theme == "Summer Nights":
        return random_date(rng, dt.date(year, 6, 1), dt.date(year, 8, 31))
    return random_date(rng, dt.date(year, 1, 1), dt.date(year, 12, 31))


def concert_singer_tables(rng: random.Random) -> Tables:
    """Stadiums, singers, concerts and who sang at which concert."""
    stadiums = [(i, *row) for i, row in enumerate(STADIUMS, start=1)]
    countries = list(SINGER_COUNTRIES)
    rng.shuffle(countries)
    singers: list[Row] = []
    for singer_id, (name, country) in enumerate(
        zip(unique_person_names(rng, countries), countries, strict=True), start=1
    ):
        age: int | None = rng.randint(19, 68)
        debut_year: int | None = 2024 - age + rng.randint(15, min(24, age - 1))
        if singer_id % 17 == 0:
            age, debut_year = None, None
        singers.append(
            (singer_id, name, country, age, gender_of(name), rng.choice(GENRES), debut_year)
        )
    hosts = [s for s in stadiums if s[1] != "Johan Cruijff Arena"]  # one never hosted a concert
    concerts: list[Row] = []
    names: set[str] = set()
    while len(concerts) < 80:
        concert_id = len(concerts) + 1
        stadium = rng.choice(hosts)
        theme = rng.choice(THEMES)
        year = rng.randint(2014, 2024)
        concert_name = f"{theme} {stadium[2]} {year}"
        if concert_name in names:
            continue
        names.add(concert_name)
        date = concert_date(rng, theme, year)
        price = round(rng.uniform(35, 180), 2)
        capacity = int(stadium[4])
        attendance = None if concert_id % 13 == 0 else rng.randint(capacity // 2, capacity)
        concerts.append(
            (concert_id, concert_name, theme, stadium[0], date.isoformat(), price, attendance)
        )
    performers = [s[0] for s in singers if s[0] % 11 != 0]  # a few singers never performed
    links: set[tuple[int, int]] = set()
    for concert in concerts:
        for singer_id in rng.sample(performers, rng.choice([1, 1, 2, 2, 3])):
            links.add((int(concert[0]), singer_id))
    return {
        "stadium": stadiums,
        "singer": singers,
        "concert": concerts,
        "singer_in_concert": sorted(links),
    }


# ------------------------------------------------------------------------- library

LIBRARY_DDL = """
CREATE TABLE authors (
    author_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    nationality TEXT NOT NULL,
    birth_year INTEGER,
    death_year INTEGER
);
CREATE TABLE books (
    book_id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    author_id INTEGER NOT NULL REFERENCES authors (author_id),
    genre TEXT NOT NULL,
    publication_year INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    copies INTEGER NOT NULL
);
CREATE TABLE members (
    member_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    city TEXT NOT NULL,
    email TEXT,
    membership_type TEXT NOT NULL,
    join_date TEXT NOT NULL
);
CREATE TABLE loans (
    loan_id INTEGER PRIMARY KEY,
    book_id INTEGER NOT NULL REFERENCES books (book_id),
    member_id INTEGER NOT NULL REFERENCES members (member_id),
    loan_date TEXT NOT NULL,
    due_date TEXT NOT NULL,
    return_date TEXT
);
"""

# (name, nationality, birth_year, death_year, [(title, genre, year, pages), ...])
AUTHORS_AND_BOOKS = [
    (
        "Jane Austen",
        "United Kingdom",
        1775,
        1817,
        [
            ("Pride and Prejudice", "Romance", 1813, 432),
            ("Sense and Sensibility", "Romance", 1811, 409),
            ("Emma", "Romance", 1815, 474),
            ("Persuasion", "Romance", 1817, 249),
        ],
    ),
    (
        "George Orwell",
        "United Kingdom",
        1903,
        1950,
        [
            ("Nineteen Eighty-Four", "Dystopian", 1949, 328),
            ("Animal Farm", "Satire", 1945, 112),
            ("Homage to Catalonia", "Memoir", 1938, 232),
        ],
    ),
    (
        "Charles Dickens",
        "United Kingdom",
        1812,
        1870,
        [
            ("Oliver Twist", "Classic", 1838, 554),
            ("Great Expectations", "Classic", 1861, 505),
            ("A Tale of Two Cities", "Historical Fiction", 1859, 489),
            ("Bleak House", "Classic", 1853, 1017),
        ],
    ),
    (
        "Mark Twain",
        "United States",
        1835,
        1910,
        [
            ("Adventures of Huckleberry Finn", "Adventure", 1884, 366),
            ("The Adventures of Tom Sawyer", "Adventure", 1876, 274),
        ],
    ),
    (
        "Leo Tolstoy",
        "Russia",
        1828,
        1910,
        [
            ("War and Peace", "Historical Fiction", 1869, 1225),
            ("Anna Karenina", "Classic", 1878, 864),
        ],
    ),
    (
        "Fyodor Dostoevsky",
        "Russia",
        1821,
        1881,
        [
            ("Crime and Punishment", "Classic", 1866, 671),
            ("The Brothers Karamazov", "Classic", 1880, 796),
            ("The Idiot", "Classic", 1869, 656),
        ],
    ),
    (
        "Victor Hugo",
        "France",
        1802,
        1885,
        [
            ("Les Miserables", "Historical Fiction", 1862, 1463),
            ("The Hunchback of Notre-Dame", "Historical Fiction", 1831, 940),
        ],
    ),
    (
        "Albert Camus",
        "France",
        1913,
        1960,
        [
            ("The Stranger", "Literary Fiction", 1942, 123),
            ("The Plague", "Literary Fiction", 1947, 308),
        ],
    ),
    (
        "Gabriel Garcia Marquez",
        "Colombia",
        1927,
        2014,
        [
            ("One Hundred Years of Solitude", "Literary Fiction", 1967, 417),
            ("Love in the Time of Cholera", "Romance", 1985, 348),
        ],
    ),
    (
        "Haruki Murakami",
        "Japan",
        1949,
        None,
        [
            ("Norwegian Wood", "Literary Fiction", 1987, 296),
            ("Kafka on the Shore", "Literary Fiction", 2002, 467),
            ("1Q84", "Literary Fiction", 2009, 928),
        ],
    ),
    (
        "Toni Morrison",
        "United States",
        1931,
        2019,
        [
            ("Beloved", "Literary Fiction", 1987, 324),
            ("Song of Solomon", "Literary Fiction", 1977, 337),
        ],
    ),
    (
        "Agatha Christie",
        "United Kingdom",
        1890,
        1976,
        [
            ("Murder on the Orient Express", "Mystery", 1934, 256),
            ("And Then There Were None", "Mystery", 1939, 272),
            ("Death on the Nile", "Mystery", 1937, 288),
            ("The Murder of Roger Ackroyd", "Mystery", 1926, 312),
        ],
    ),
    (
        "J. R. R. Tolkien",
        "United Kingdom",
        1892,
        1973,
        [
            ("The Hobbit", "Fantasy", 1937, 310),
            ("The Fellowship of the Ring", "Fantasy", 1954, 423),
            ("The Two Towers", "Fantasy", 1954, 352),
            ("The Return of the King", "Fantasy", 1955, 416),
        ],
    ),
    (
        "Ursula K. Le Guin",
        "United States",
        1929,
        2018,
        [
            ("A Wizard of Earthsea", "Fantasy", 1968, 183),
            ("The Left Hand of Darkness", "Science Fiction", 1969, 304),
            ("The Dispossessed", "Science Fiction", 1974, 387),
        ],
    ),
    (
        "Isaac Asimov",
        "United States",
        1920,
        1992,
        [
            ("Foundation", "Science Fiction", 1951, 255),
            ("I, Robot", "Science Fiction", 1950, 253),
            ("The Caves of Steel", "Science Fiction", 1954, 224),
        ],
    ),
    (
        "Margaret Atwood",
        "Canada",
        1939,
        None,
        [
            ("The Handmaid's Tale", "Dystopian", 1985, 311),
            ("Alias Grace", "Historical Fiction", 1996, 470),
            ("The Blind Assassin", "Literary Fiction", 2000, 521),
        ],
    ),
    (
        "Chimamanda Ngozi Adichie",
        "Nigeria",
        1977,
        None,
        [
            ("Half of a Yellow Sun", "Historical Fiction", 2006, 433),
            ("Americanah", "Literary Fiction", 2013, 588),
        ],
    ),
    (
        "Kazuo Ishiguro",
        "United Kingdom",
        1954,
        None,
        [
            ("The Remains of the Day", "Literary Fiction", 1989, 245),
            ("Never Let Me Go", "Science Fiction", 2005, 288),
            ("Klara and the Sun", "Science Fiction", 2021, 303),
        ],
    ),
    (
        "Franz Kafka",
        "Czech Republic",
        1883,
        1924,
        [("The Trial", "Classic", 1925, 255), ("The Castle", "Classic", 1926, 352)],
    ),
    (
        "Ernest Hemingway",
        "United States",
        1899,
        1961,
        [
            ("The Old Man and the Sea", "Classic", 1952, 127),
            ("A Farewell to Arms", "Classic", 1929, 355),
            ("The Sun Also Rises", "Classic", 1926, 251),
        ],
    ),
    (
        "Virginia Woolf",
        "United Kingdom",
        1882,
        1941,
        [
            ("Mrs Dalloway", "Literary Fiction", 1925, 194),
            ("To the Lighthouse", "Literary Fiction", 1927, 209),
        ],
    ),
    (
        "Umberto Eco",
        "Italy",
        1932,
        2016,
        [
            ("The Name of the Rose", "Mystery", 1980, 536),
            ("Foucault's Pendulum", "Literary Fiction", 1988, 641),
        ],
    ),
    (
        "Isabel Allende",
        "Chile",
        1942,
        None,
        [
            ("The House of the Spirits", "Literary Fiction", 1982, 448),
            ("Eva Luna", "Romance", 1987, 307),
        ],
    ),
    (
        "Stephen King",
        "United States",
        1947,
        None,
        [
            ("The Shining", "Horror", 1977, 447),
            ("It", "Horror", 1986, 1138),
            ("Misery", "Horror", 1987, 370),
            ("Carrie", "Horror", 1974, 199),
        ],
    ),
    ("Mary Shelley", "United Kingdom", 1797, 1851, [("Frankenstein", "Horror", 1818, 280)]),
    (
        "Yuval Noah Harari",
        "Israel",
        1976,
        None,
        [("Sapiens", "Nonfiction", 2011, 443), ("Homo Deus", "Nonfiction", 2015, 450)],
    ),
    (
        "Stephen Hawking",
        "United Kingdom",
        1942,
        2018,
        [("A Brief History of Time", "Nonfiction", 1988, 212)],
    ),
    (
        "Carl Sagan",
        "United States",
        1934,
        1996,
        [("Cosmos", "Nonfiction", 1980, 365), ("Pale Blue Dot", "Nonfiction", 1994, 429)],
    ),
    (
        "Jules Verne",
        "France",
        1828,
        1905,
        [
            ("Twenty Thousand Leagues Under the Seas", "Adventure", 1870, 426),
            ("Around the World in Eighty Days", "Adventure", 1872, 252),
            ("Journey to the Center of the Earth", "Adventure", 1864, 240),
        ],
    ),
    ("Miguel de Cervantes", "Spain", 1547, 1616, [("Don Quixote", "Classic", 1605, 1072)]),
    (
        "Astrid Lindgren",
        "Sweden",
        1907,
        2002,
        [
            ("Pippi Longstocking", "Children", 1945, 160),
            ("The Brothers Lionheart", "Children", 1973, 224),
        ],
    ),
    (
        "Elena Ferrante",
        "Italy",
        None,
        None,
        [
            ("My Brilliant Friend", "Literary Fiction", 2011, 331),
            ("The Story of a New Name", "Literary Fiction", 2012, 471),
        ],
    ),
]
LIBRARY_CITIES = ["Springfield", "Riverton", "Lakeside", "Hillcrest", "Maplewood", "Fairview"]
LIBRARY_COUNTRIES = ["United Kingdom", "United States", "Canada", "Australia", "Germany", "France"]
MEMBERSHIP_TYPES = ["standard", "standard", "standard", "premium", "student", "student"]
LIBRARY_TODAY = dt.date(2024, 12, 31)


def library_tables(rng: random.Random) -> Tables:
    """Real authors and books with seeded copy counts, members and loans."""
    authors: list[Row] = []
    books: list[Row] = []
    for author_id, (name, nationality, born, died, titles) in enumerate(AUTHORS_AND_BOOKS, 1):
        authors.append((author_id, name, nationality, born, died))
        for title, genre, year, pages in titles:
            books.append((len(books) + 1, title, author_id, genre, year, pages, rng.randint(1, 6)))
    member_countries = [rng.choice(LIBRARY_COUNTRIES) for _ in range(50)]
    members: list[Row] = []
    for member_id, name in enumerate(unique_person_names(rng, member_countries), start=1):
        email = None if member_id % 9 == 0 else email_for(name, "mail.example.com")
        joined = random_date(rng, dt.date(2015, 1, 1), dt.date(2024, 6, 30))
        members.append(
            (
                member_id,
                name,
                rng.choice(LIBRARY_CITIES),
                email,
                rng.choice(MEMBERSHIP_TYPES),
                joined.isoformat(),
            )
        )
    borrowers = [m for m in members if int(m[0]) % 10 != 7]  # a few members never borrowed
    lent = [b for b in books if authors[int(b[2]) - 1][1] != "Franz Kafka"]  # never borrowed
    popular = [b for b in lent if rng.random() < 0.45]
    loans: list[Row] = []
    for loan_id in range(1, 181):
        member = rng.choice(borrowers)
        book = rng.choice(popular if rng.random() < 0.6 else lent)
        start = max(dt.date.fromisoformat(str(member[5])), dt.date(2023, 1, 1))
        loan_date = random_date(rng, start, dt.date(2024, 12, 20))
        due_date = loan_date + dt.timedelta(days=21)
        returned: str | None = None
        if (LIBRARY_TODAY - loan_date).days > 45 or rng.random() < 0.4:
            back = loan_date + dt.timedelta(days=rng.randint(2, 35))
            returned = min(back, LIBRARY_TODAY).isoformat()
        loans.append(
            (loan_id, book[0], member[0], loan_date.isoformat(), due_date.isoformat(), returned)
        )
    return {"authors": authors, "books": books, "members": members, "loans": loans}


# ---------------------------------------------------------------------------- shop

SHOP_DDL = """
CREATE TABLE customers (
    customer_id INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT,
    city TEXT NOT NULL,
    country TEXT NOT NULL,
    signup_date TEXT NOT NULL
);
CREATE TABLE products (
    product_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    price REAL NOT NULL,
    stock_quantity INTEGER NOT NULL
);
CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (customer_id),
    order_date TEXT NOT NULL,
    status TEXT NOT NULL,
    shipped_date TEXT
);
CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders (order_id),
    product_id INTEGER NOT NULL REFERENCES products (product_id),
    quantity INTEGER NOT NULL,
    unit_price REAL NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
"""

PRODUCTS = [
    ("Wireless Mouse", "Electronics", 24.99),
    ("Mechanical Keyboard", "Electronics", 89.00),
    ("USB-C Charger", "Electronics", 19.50),
    ("Noise Cancelling Headphones", "Electronics", 249.00),
    ("27-inch Monitor", "Electronics", 319.99),
    ("Bluetooth Speaker", "Electronics", 59.90),
    ("Webcam HD", "Electronics", 45.00),
    ("Portable SSD 1TB", "Electronics", 109.99),
    ("Smart Watch", "Electronics", 199.00),
    ("Espresso Machine", "Kitchen", 329.00),
    ("Chef's Knife", "Kitchen", 64.50),
    ("Cast Iron Skillet", "Kitchen", 39.95),
    ("Electric Kettle", "Kitchen", 34.99),
    ("Blender", "Kitchen", 79.00),
    ("Coffee Grinder", "Kitchen", 49.90),
    ("Cutting Board", "Kitchen", 22.00),
    ("Toaster", "Kitchen", 42.50),
    ("Yoga Mat", "Sports", 29.99),
    ("Running Shoes", "Sports", 120.00),
    ("Dumbbell Set", "Sports", 149.00),
    ("Water Bottle", "Sports", 15.99),
    ("Tennis Racket", "Sports", 89.95),
    ("Cycling Helmet", "Sports", 69.00),
    ("Camping Tent", "Outdoors", 189.00),
    ("Sleeping Bag", "Outdoors", 79.99),
    ("Hiking Backpack", "Outdoors", 99.00),
    ("Headlamp", "Outdoors", 27.50),
    ("Trekking Poles", "Outdoors", 54.00),
    ("Desk Lamp", "Home", 36.99),
    ("Throw Blanket", "Home", 44.00),
    ("Scented Candle", "Home", 18.50),
    ("Wall Clock", "Home", 32.00),
    ("Office Chair", "Home", 259.00),
    ("Bookshelf", "Home", 139.00),
    ("Notebook Pack", "Stationery", 12.99),
    ("Fountain Pen", "Stationery", 58.00),
    ("Desk Organizer", "Stationery", 21.50),
    ("Sticky Notes", "Stationery", 6.99),
    ("Board Game", "Toys", 39.99),
    ("Jigsaw Puzzle", "Toys", 17.99),
]
SHOP_CITIES = {
    "United States": ["New York", "Chicago", "Seattle", "Austin"],
    "United Kingdom": ["London", "Manchester", "Leeds"],
    "Germany": ["Berlin", "Hamburg", "Munich"],
    "France": ["Paris", "Lyon", "Marseille"],
    "Canada": ["Toronto", "Vancouver", "Montreal"],
    "Spain": ["Madrid", "Valencia"],
    "Italy": ["Rome", "Milan"],
    "Japan": ["Tokyo", "Osaka"],
}
SHOP_COUNTRY_WEIGHTS = {
    "United States": 14,
    "United Kingdom": 9,
    "Germany": 8,
    "France": 8,
    "Canada": 7,
    "Spain": 5,
    "Italy": 5,
    "Japan": 4,
}
SHOP_STATUSES = ["delivered"] * 6 + ["shipped"] * 2 + ["processing", "cancelled"]


def shop_tables(rng: random.Random) -> Tables:
    """Customers, a product catalogue, orders and their line items."""
    countries = [c for c, weight in SHOP_COUNTRY_WEIGHTS.items() for _ in range(weight)]
    rng.shuffle(countries)
    customers: list[Row] = []
    for customer_id, (name, country) in enumerate(
        zip(unique_person_names(rng, countries), countries, strict=True), start=1
    ):
        first, last = name.split(" ", 1)
        phone = None
        if rng.random() >= 0.2:
            phone = (
                f"{PHONE_PREFIXES[country]} {rng.randint(200, 999)} {rng.randint(100, 999)} "
                f"{rng.randint(1000, 9999)}"
            )
        signup = random_date(rng, dt.date(2021, 1, 1), dt.date(2024, 3, 31))
        customers.append(
            (
                customer_id,
                first,
                last,
                email_for(name, "example.com"),
                phone,
                rng.choice(SHOP_CITIES[country]),
                country,
                signup.isoformat(),
            )
        )
    products = [
        (i, name, category, price, rng.randint(0, 250) if i % 8 else 0)
        for i, (name, category, price) in enumerate(PRODUCTS, start=1)
    ]
    buyers = [c for c in customers if int(c[0]) % 12 != 5]  # a few customers never ordered
    sold = [p for p in products if int(p[0]) % 13 != 0]  # a few products were never ordered
    orders: list[Row] = []
    items: list[Row] = []
    for order_id in range(1, 101):
        customer = rng.choice(buyers)
        signup = dt.date.fromisoformat(str(customer[7]))
        ordered = random_date(rng, max(signup, dt.date(2023, 1, 1)), dt.date(2024, 12, 31))
        status = rng.choice(SHOP_STATUSES)
        shipped = None
        if status in ("delivered", "shipped"):
            shipped = (ordered + dt.timedelta(days=rng.randint(1, 5))).isoformat()
        orders.append((order_id, customer[0], ordered.isoformat(), status, shipped))
        for product in rng.sample(sold, rng.choice([1, 1, 2, 2, 3])):
            discount = 0.9 if rng.random() < 0.15 else 1.0
            items.append(
                (
                    order_id,
                    product[0],
                    rng.choice([1, 1, 1, 2, 2, 3, 4]),
                    round(float(product[3]) * discount, 2),
                )
            )
    return {"customers": customers, "products": products, "orders": orders, "order_items": items}


# -------------------------------------------------------------------------- school

SCHOOL_DDL = """
CREATE TABLE teachers (
    teacher_id INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    department TEXT NOT NULL,
    hire_date TEXT NOT NULL,
    salary REAL NOT NULL
);
CREATE TABLE courses (
    course_id INTEGER PRIMARY KEY,
    course_code TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    department TEXT NOT NULL,
    credits INTEGER NOT NULL,
    teacher_id INTEGER REFERENCES teachers (teacher_id)
);
CREATE TABLE students (
    student_id INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    gender TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    city TEXT NOT NULL,
    enrollment_year INTEGER NOT NULL
);
CREATE TABLE enrollments (
    enrollment_id INTEGER PRIMARY KEY,
    student_id INTEGER NOT NULL REFERENCES students (student_id),
    course_id INTEGER NOT NULL REFERENCES courses (course_id),
    semester TEXT NOT NULL,
    score REAL,
    grade TEXT
);
"""

# department -> [(course_code, title, credits)]
COURSES = {
    "Mathematics": [
        ("MATH101", "Calculus I", 4),
        ("MATH102", "Calculus II", 4),
        ("MATH201", "Linear Algebra", 3),
        ("MATH210", "Probability and Statistics", 3),
        ("MATH301", "Discrete Mathematics", 3),
    ],
    "Computer Science": [
        ("CS101", "Introduction to Programming", 4),
        ("CS201", "Data Structures", 4),
        ("CS220", "Databases", 3),
        ("CS310", "Algorithms", 4),
        ("CS330", "Machine Learning", 3),
    ],
    "Physics": [
        ("PHYS101", "Mechanics", 4),
        ("PHYS102", "Electricity and Magnetism", 4),
        ("PHYS201", "Thermodynamics", 3),
        ("PHYS301", "Quantum Physics", 3),
    ],
    "Chemistry": [
        ("CHEM101", "General Chemistry", 4),
        ("CHEM201", "Organic Chemistry", 4),
        ("CHEM210", "Analytical Chemistry", 3),
    ],
    "Biology": [
        ("BIO101", "Cell Biology", 4),
        ("BIO201", "Genetics", 3),
        ("BIO220", "Ecology", 3),
        ("BIO310", "Microbiology", 3),
    ],
    "History": [
        ("HIST101", "World History", 3),
        ("HIST210", "Modern Europe", 3),
        ("HIST220", "History of Science", 2),
    ],
    "English": [
        ("ENG101", "Academic Writing", 2),
        ("ENG201", "British Literature", 3),
        ("ENG210", "Creative Writing", 2),
    ],
}
SCHOOL_CITIES = ["Boston", "Cambridge", "Somerville", "Newton", "Quincy", "Brookline", "Medford"]
SCHOOL_NAME_POOLS = ["United States"] * 3 + sorted(FIRST_NAMES)
SEMESTERS = ["2023-Fall", "2024-Spring", "2024-Fall"]


def letter_grade(score: float) -> str:
    """US letter grade for a 0-100 score."""
    for threshold, letter in ((90, "A"), (80, "B"), (70, "C"), (60, "D")):
        if score >= threshold:
            return letter
    return "F"


def school_tables(rng: random.Random) -> Tables:
    """Teachers, courses, students and enrollments with scores and letter grades."""
    departments = list(COURSES)
    teacher_departments = departments + [rng.choice(departments) for _ in range(13)]
    teacher_names = unique_person_names(
        rng, [rng.choice(["United States", "United Kingdom", "Canada"]) for _ in range(20)]
    )
    teachers: list[Row] = []
    for teacher_id, (name, department) in enumerate(
        zip(teacher_names, teacher_departments, strict=True), start=1
    ):
        first, last = name.split(" ", 1)
        hired = random_date(rng, dt.date(2000, 1, 1), dt.date(2023, 8, 31))
        salary = float(rng.randint(52, 118) * 1000 + rng.choice([0, 250, 500, 750]))
        teachers.append((teacher_id, first, last, department, hired.isoformat(), salary))
    courses: list[Row] = []
    for department, offered in COURSES.items():
        staff = [int(t[0]) for t in teachers if t[3] == department]
        for code, title, credits in offered:
            teacher_id = None if code in ("PHYS301", "HIST220") else rng.choice(staff)
            courses.append((len(courses) + 1, code, title, department, credits, teacher_id))
    student_names = unique_person_names(rng, [rng.choice(SCHOOL_NAME_POOLS) for _ in range(120)])
    students: list[Row] = []
    for student_id, name in enumerate(student_names, start=1):
        first, last = name.split(" ", 1)
        year = rng.randint(2020, 2024)
        birth = random_date(rng, dt.date(year - 19, 1, 1), dt.date(year - 18, 12, 31))
        students.append(
            (
                student_id,
                first,
                last,
                gender_of(name),
                birth.isoformat(),
                rng.choice(SCHOOL_CITIES),
                year,
            )
        )
    pairs: set[tuple[int, int]] = set()
    enrollments: list[Row] = []
    while len(enrollments) < 200:
        student = rng.choice(students)
        course = rng.choice(courses)
        if (int(student[0]), int(course[0])) in pairs or course[1] == "HIST220":
            continue
        pairs.add((int(student[0]), int(course[0])))
        # the academic year starts in the fall: a 2024 entrant only has 2024-Fall courses
        semester = rng.choice(SEMESTERS[2:] if student[6] == 2024 else SEMESTERS)
        score: float | None = None
        if semester != "2024-Fall" or rng.random() < 0.3:
            score = float(min(100, max(35, round(rng.gauss(76, 12)))))
        grade = None if score is None else letter_grade(score)
        enrollments.append((len(enrollments) + 1, student[0], course[0], semester, score, grade))
    return {
        "teachers": teachers,
        "courses": courses,
        "students": students,
        "enrollments": enrollments,
    }


# ------------------------------------------------------------------------ building

DatabaseSpec = tuple[str, int, Callable[[random.Random], Tables]]
DATABASES: dict[str, DatabaseSpec] = {
    "concert_singer": (CONCERT_SINGER_DDL, 1101, concert_singer_tables),
    "library": (LIBRARY_DDL, 2202, library_tables),
    "shop": (SHOP_DDL, 3303, shop_tables),
    "school": (SCHOOL_DDL, 4404, school_tables),
}


def write_database(path: Path, ddl: str, tables: Tables) -> None:
    """Write a SQLite file at ``path`` with ``ddl`` and the rows of ``tables``.

    The file is built beside ``path`` and moved into place, so readers never see
    a half-built database.
    """
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    connection = sqlite3.connect(partial)
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        connection.executescript(ddl)
        for table, rows in tables.items():
            placeholders = ", ".join("?" * len(rows[0]))
            connection.executemany(f"INSERT INTO {table} VALUES ({placeholders})", rows)
        connection.commit()
        connection.execute("VACUUM")
    finally:
        connection.close()
    partial.replace(path)


def build_demo_databases(target_dir: Path) -> list[Path]:
    """Build the four demo databases as ``<target_dir>/<db_id>.sqlite``; return their paths."""
    target_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for db_id, (ddl, seed, make_tables) in DATABASES.items():
        path = target_dir / f"{db_id}.sqlite"
        write_database(path, ddl, make_tables(random.Random(seed)))
        paths.append(path)
    return paths


def demo_stats(databases_dir: Path, questions_path: Path) -> str:
    """Table row counts per database and question counts per database, split and difficulty."""
    lines = ["Tables (rows):"]
    for db_id in DATABASES:
        path = databases_dir / f"{db_id}.sqlite"
        if not path.is_file():
            raise SystemExit(f"{path} is missing: build it with `python data/build_demo.py`")
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = [
                r[0]
                for r in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid"
                )
            ]
            counts = [
                f"{n} {connection.execute(f'SELECT COUNT(*) FROM {n}').fetchone()[0]}"
                for n in names
            ]
        finally:
            connection.close()
        lines.append(f"  {db_id}: " + ", ".join(counts))
    questions = json.loads(questions_path.read_text(encoding="utf-8"))
    lines.append(f"Questions: {len(questions)}")
    per_db_split = Counter((q["db_id"], q["split"]) for q in questions)
    per_split_difficulty = Counter((q["split"], q["difficulty"]) for q in questions)
    header = f"  {'database':<16}{'train':>7}{'test':>7}{'total':>7}"
    lines.append(header)
    for db_id in DATABASES:
        train, test = per_db_split[(db_id, "train")], per_db_split[(db_id, "test")]
        lines.append(f"  {db_id:<16}{train:>7}{test:>7}{train + test:>7}")
    lines.append(f"  {'difficulty':<16}{'train':>7}{'test':>7}{'total':>7}")
    for difficulty in ("simple", "moderate", "challenging"):
        train = per_split_difficulty[("train", difficulty)]
        test = per_split_difficulty[("test", difficulty)]
        lines.append(f"  {difficulty:<16}{train:>7}{test:>7}{train + test:>7}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Rebuild the demo databases, or print their statistics with ``--stats``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stats",
        action="store_true",
        help="print table sizes and question counts instead of rebuilding",
    )
    parser.add_argument(
        "--target",
        type=Path,
        default=DATABASES_DIR,
        help=f"folder for the .sqlite files (default: {DATABASES_DIR})",
    )
    args = parser.parse_args(argv)
    if args.stats:
        print(demo_stats(args.target, QUESTIONS_PATH))
        return 0
    for path in build_demo_databases(args.target):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
