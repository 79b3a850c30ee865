"""Writes the bundled demo catalog: fictional products over 8 departments, generated from the tables below.

Every brand, title and description here was written for genrec; nothing is scraped. The generator is
seeded, so `python -m genrec.demo.make_catalog` rewrites catalog.jsonl byte for byte.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
PER_TYPE = 40  # at most; a type with fewer brand x variant x attribute combinations gives fewer

# (department, subcategory, product type, price range, brands, variants, attribute options, features, uses)
TYPES = [
    ("Sports & Outdoors", "Running", "Running Shoes", (55, 180), ["Strideworks", "Trailpeak", "Fleetfoot"],
     ["Lightweight Road", "Trail", "Cushioned Daily", "Stability", "Carbon Racing"],
     {"Color": ["Slate Grey", "Black", "Navy", "Muted Olive", "Volt Yellow"], "Fit": ["Men's", "Women's"]},
     ["breathable engineered mesh upper", "responsive foam midsole", "grippy rubber outsole with 4 mm lugs",
      "8 mm heel-to-toe drop", "reflective heel tab for dawn runs", "padded tongue and collar"],
     ["easy miles", "marathon training", "muddy trails", "your first 5K"]),
    ("Sports & Outdoors", "Running", "Running Socks", (9, 28), ["Strideworks", "Fleetfoot", "Merinova"],
     ["No-Show", "Quarter Crew", "Merino Trail", "Compression"],
     {"Color": ["White", "Black", "Grey", "Neon Orange"], "Pack": ["2-Pack", "3-Pack", "6-Pack"]},
     ["blister-resistant seamless toe", "moisture-wicking yarn", "arch compression band", "cushioned heel"],
     ["long runs", "hot weather", "daily training"]),
    ("Sports & Outdoors", "Running", "Hydration Vest", (45, 140), ["Trailpeak", "Aquapace"],
     ["5 L", "8 L", "12 L Ultra"], {"Color": ["Black", "Blue", "Red"], "Size": ["S/M", "L/XL"]},
     ["two 500 ml soft flasks included", "bounce-free chest straps", "zipped phone pocket",
      "whistle on the sternum strap"], ["trail races", "long runs in summer", "ultramarathons"]),
    ("Sports & Outdoors", "Running", "GPS Running Watch", (99, 449), ["Pulsegrid", "Fleetfoot"],
     ["Basic", "Multisport", "Solar Pro", "Trail Navigator"], {"Color": ["Black", "White", "Graphite"]},
     ["wrist heart-rate sensor", "up to 14 days of battery", "built-in GPS and GLONASS", "interval workouts",
      "water resistant to 50 m"], ["training plans", "tracking pace", "triathlon training"]),
    ("Sports & Outdoors", "Camping", "Tent", (79, 520), ["Ridgeline", "Northcamp", "Trailpeak"],
     ["2-Person Backpacking", "4-Person Family", "Ultralight 1-Person", "3-Season Dome"],
     {"Color": ["Forest Green", "Orange", "Grey"]},
     ["color-coded aluminium poles", "full-coverage rainfly", "two doors and two vestibules",
      "packs down to the size of a loaf of bread", "taped seams"], ["weekend camping", "thru-hikes",
                                                                    "festival trips"]),
    ("Sports & Outdoors", "Camping", "Sleeping Bag", (39, 320), ["Northcamp", "Ridgeline"],
     ["Down Mummy", "Synthetic Rectangular", "Summer Lightweight", "Winter -10 C"],
     {"Color": ["Blue", "Red", "Olive"]},
     ["water-repellent shell", "draft collar", "two-way zipper", "compression sack included"],
     ["cold nights", "car camping", "backpacking"]),
    ("Sports & Outdoors", "Camping", "Headlamp", (14, 79), ["Lumacore", "Northcamp"],
     ["400 Lumen", "USB-C Rechargeable", "Red Light Night Vision", "900 Lumen Trail"],
     {"Color": ["Black", "Orange", "Blue"]},
     ["tilting beam", "IPX4 splash resistance", "lock mode for your pack", "up to 60 hours on low"],
     ["night hikes", "camp chores", "early-morning runs"]),
    ("Sports & Outdoors", "Camping", "Camping Stove", (29, 159), ["Ridgeline", "Emberline"],
     ["Compact Canister", "Two-Burner", "Integrated Pot System"], {"Fuel": ["Butane", "Propane"]},
     ["boils a litre in about 4 minutes", "piezo igniter", "folding pot supports", "wind shield"],
     ["backcountry cooking", "car camping", "emergency kits"]),
    ("Sports & Outdoors", "Cycling", "Bike Helmet", (35, 220), ["Velowind", "Spokehaus"],
     ["Road", "Mountain", "Commuter with Rear Light", "Kids'"], {"Color": ["Matte Black", "White", "Teal"],
                                                                  "Size": ["S", "M", "L"]},
     ["rotational impact protection liner", "14 vents", "dial fit system", "removable visor"],
     ["commuting", "mountain biking", "weekend rides"]),
    ("Sports & Outdoors", "Yoga & Fitness", "Yoga Mat", (19, 110), ["Lotusfield", "Corecraft"],
     ["6 mm Cushioned", "Natural Rubber", "Travel Foldable", "Cork"],
     {"Color": ["Sage", "Plum", "Ocean Blue", "Charcoal"]},
     ["non-slip texture on both sides", "alignment lines", "carrying strap included", "free of PVC"],
     ["hot yoga", "home workouts", "pilates"]),
    ("Sports & Outdoors", "Yoga & Fitness", "Adjustable Dumbbells", (89, 399), ["Corecraft", "Ironvale"],
     ["5-25 lb Pair", "10-50 lb Single", "Compact 2-20 kg"], {"Color": ["Black", "Red Accent"]},
     ["dial selects weight in two seconds", "replaces 15 pairs of dumbbells", "storage tray included"],
     ["strength training at home", "small apartments"]),
    ("Sports & Outdoors", "Yoga & Fitness", "Resistance Bands", (12, 45), ["Corecraft", "Lotusfield"],
     ["Loop Set of 5", "Tube Set with Handles", "Fabric Booty Bands"], {"Color": ["Multicolor", "Black"]},
     ["five resistance levels", "door anchor included", "latex-free option", "mesh carry bag"],
     ["physical therapy", "travel workouts", "glute training"]),
    ("Home & Kitchen", "Cookware", "Frying Pan", (19, 149), ["Hearthstone", "Copperleaf", "Panmaster"],
     ["Nonstick 10-inch", "Cast Iron 12-inch", "Stainless Tri-Ply 11-inch", "Carbon Steel"],
     {"Color": ["Black", "Silver", "Graphite"]},
     ["oven safe to 260 C", "works on induction", "stay-cool handle", "PFOA-free coating"],
     ["weeknight dinners", "searing steak", "eggs and pancakes"]),
    ("Home & Kitchen", "Cookware", "Dutch Oven", (49, 299), ["Hearthstone", "Copperleaf"],
     ["5.5 qt Enameled", "7 qt Round", "3 qt Mini"], {"Color": ["Cherry Red", "Cream", "Navy", "Sage"]},
     ["enameled cast iron", "tight-fitting self-basting lid", "oven safe to 250 C", "dishwasher safe"],
     ["braises and stews", "baking bread", "slow cooking"]),
    ("Home & Kitchen", "Small Appliances", "Coffee Maker", (29, 349), ["Brewhaus", "Morningstar"],
     ["12-Cup Drip", "Single-Serve", "Espresso Machine", "Pour-Over Kettle Set", "Cold Brew"],
     {"Color": ["Black", "Stainless", "White"]},
     ["programmable 24-hour start", "thermal carafe keeps coffee hot", "15-bar pump", "auto shut-off"],
     ["busy mornings", "home baristas", "small kitchens"]),
    ("Home & Kitchen", "Small Appliances", "Blender", (35, 299), ["Whirlpeak", "Morningstar"],
     ["Personal", "High-Speed", "Immersion Hand", "Countertop 1.8 L"], {"Color": ["Black", "Red", "Silver"]},
     ["1200 W motor", "BPA-free jar", "pulse and smoothie presets", "dishwasher-safe blades"],
     ["smoothies", "soups", "meal prep"]),
    ("Home & Kitchen", "Small Appliances", "Electric Kettle", (19, 119), ["Brewhaus", "Whirlpeak"],
     ["1.7 L Glass", "Gooseneck Variable Temperature", "Travel Mini"], {"Color": ["Black", "White", "Copper"]},
     ["boils in under 4 minutes", "keep-warm function", "boil-dry protection", "cordless base"],
     ["tea lovers", "pour-over coffee", "dorm rooms"]),
    ("Home & Kitchen", "Bedding", "Pillow", (19, 129), ["Dreamloft", "Cloudnest"],
     ["Memory Foam", "Down Alternative", "Cooling Gel", "Side Sleeper"], {"Size": ["Standard", "Queen", "King"]},
     ["removable washable cover", "adjustable fill", "hypoallergenic", "breathable bamboo cover"],
     ["side sleepers", "hot sleepers", "neck pain"]),
    ("Home & Kitchen", "Bedding", "Sheet Set", (29, 189), ["Dreamloft", "Cloudnest", "Linenwell"],
     ["400 Thread Count Cotton", "Washed Linen", "Bamboo Cooling", "Flannel"],
     {"Color": ["White", "Stone", "Navy", "Blush"], "Size": ["Twin", "Queen", "King"]},
     ["deep pockets fit 16-inch mattresses", "gets softer with every wash", "OEKO-TEX certified"],
     ["warm climates", "winter nights", "guest rooms"]),
    ("Electronics", "Audio", "Wireless Earbuds", (25, 279), ["Sonicly", "Auralink", "Beatform"],
     ["Noise Cancelling", "Sport Ear-Hook", "Budget True Wireless", "Hi-Res"],
     {"Color": ["Black", "White", "Midnight Blue"]},
     ["active noise cancelling", "IPX5 sweat resistance", "8 hours per charge plus 24 in the case",
      "wireless charging case", "multipoint Bluetooth 5.3"], ["the gym", "commuting", "calls at work"]),
    ("Electronics", "Audio", "Over-Ear Headphones", (39, 399), ["Auralink", "Sonicly"],
     ["Noise Cancelling", "Studio Monitor", "Kids' Volume-Limited", "Gaming with Mic"],
     {"Color": ["Black", "Silver", "Sand"]},
     ["40 mm drivers", "30-hour battery", "memory-foam ear cushions", "foldable with travel case"],
     ["flights", "music production", "gaming"]),
    ("Electronics", "Audio", "Bluetooth Speaker", (25, 249), ["Beatform", "Sonicly"],
     ["Waterproof Mini", "Party", "Smart Home", "Rugged Outdoor"], {"Color": ["Black", "Blue", "Red", "Camo"]},
     ["IP67 waterproof and dustproof", "12-hour battery", "stereo pairing", "built-in microphone"],
     ["the beach", "camping trips", "the kitchen"]),
    ("Electronics", "Computer Accessories", "Keyboard", (25, 199), ["Keyforge", "Typewell"],
     ["Mechanical Tenkeyless", "Wireless Low-Profile", "Ergonomic Split", "Compact 60%"],
     {"Switch": ["Brown Tactile", "Red Linear", "Scissor"], "Color": ["Black", "White", "Grey"]},
     ["hot-swappable switches", "connects to three devices", "USB-C charging", "backlit keys"],
     ["programmers", "home offices", "gaming"]),
    ("Electronics", "Computer Accessories", "Mouse", (15, 129), ["Keyforge", "Typewell", "Glidepoint"],
     ["Wireless Ergonomic Vertical", "Gaming 26K DPI", "Silent Travel", "Trackball"],
     {"Color": ["Black", "White", "Rose"]},
     ["silent clicks", "70-day battery", "adjustable DPI", "works on glass"],
     ["wrist comfort", "travel", "competitive gaming"]),
    ("Electronics", "Computer Accessories", "USB-C Hub", (19, 99), ["Portly", "Glidepoint"],
     ["7-in-1", "10-in-1 Docking", "Travel 4-in-1"], {"Color": ["Space Grey", "Silver"]},
     ["4K HDMI output", "100 W pass-through charging", "SD and microSD readers", "gigabit Ethernet"],
     ["laptop users", "hot-desking", "presentations"]),
    ("Electronics", "Phone Accessories", "Power Bank", (15, 89), ["Voltcase", "Portly"],
     ["10000 mAh Slim", "20000 mAh Fast Charge", "MagSafe-Compatible", "Solar Rugged"],
     {"Color": ["Black", "White", "Orange"]},
     ["charges two devices at once", "20 W USB-C power delivery", "airline carry-on safe", "LED charge level"],
     ["travel", "festivals", "emergency kits"]),
    ("Beauty & Personal Care", "Skincare", "Moisturizer", (9, 79), ["Dewlab", "Verdance", "Purelle"],
     ["Daily Hydrating", "Oil-Free Gel", "Rich Night", "Tinted SPF 30"], {"Size": ["50 ml", "100 ml"]},
     ["hyaluronic acid", "fragrance-free", "ceramides repair the skin barrier", "non-comedogenic"],
     ["dry skin", "oily skin", "sensitive skin"]),
    ("Beauty & Personal Care", "Skincare", "Sunscreen", (8, 39), ["Dewlab", "Solvia"],
     ["SPF 50 Mineral", "SPF 30 Sport", "Tinted SPF 40", "Kids' SPF 50"], {"Size": ["50 ml", "150 ml"]},
     ["broad-spectrum UVA and UVB", "water resistant for 80 minutes", "reef-friendly zinc oxide",
      "no white cast"], ["outdoor sports", "beach days", "daily wear"]),
    ("Beauty & Personal Care", "Hair Care", "Shampoo", (6, 42), ["Verdance", "Purelle", "Lustra"],
     ["Sulfate-Free", "Anti-Dandruff", "Curl Defining", "Volumizing"], {"Size": ["250 ml", "500 ml"]},
     ["argan oil", "color-safe formula", "tea tree oil", "salon-grade cleanser"],
     ["curly hair", "fine hair", "color-treated hair"]),
    ("Beauty & Personal Care", "Shaving & Grooming", "Beard Trimmer", (19, 129), ["Edgecraft", "Lustra"],
     ["Cordless Precision", "All-in-One Grooming Kit", "Waterproof"], {"Color": ["Black", "Silver"]},
     ["20 length settings", "self-sharpening steel blades", "90-minute runtime", "USB-C charging"],
     ["short beards", "travel grooming"]),
    ("Books", "Fiction", "Novel", (8, 28), ["Harbor Lane Press", "Quillmark Books", "Northwind Publishing"],
     ["Mystery", "Fantasy", "Science Fiction", "Historical", "Romance", "Thriller"], {"Format": ["Paperback",
                                                                                               "Hardcover"]},
     ["a twisty plot with a satisfying ending", "an award-winning debut author", "a sweeping world and vivid "
      "characters", "short chapters that keep you reading"], ["book clubs", "summer holidays", "commutes"]),
    ("Books", "Cooking", "Cookbook", (12, 45), ["Quillmark Books", "Saltfield Press"],
     ["Weeknight Vegetarian", "Sourdough Baking", "Thirty-Minute Meals", "Plant-Based Protein", "Slow Cooker"],
     {"Format": ["Paperback", "Hardcover"]},
     ["over 100 tested recipes", "step-by-step photos", "shopping lists for each week", "nutrition facts"],
     ["new cooks", "busy families", "bakers"]),
    ("Books", "Children's Books", "Picture Book", (6, 22), ["Little Fern Books", "Harbor Lane Press"],
     ["Bedtime", "Dinosaur Adventure", "Counting", "Animal Friends"], {"Age": ["Ages 2-5", "Ages 4-8"]},
     ["bright illustrations", "rhyming text to read aloud", "sturdy board pages"], ["bedtime", "toddlers",
                                                                                   "early readers"]),
    ("Toys & Games", "Board Games", "Board Game", (15, 69), ["Meeple Lane", "Diceworks"],
     ["Strategy", "Cooperative", "Party", "Family Card", "Two-Player Duel"], {"Players": ["2-4", "2-6", "3-8"]},
     ["45-minute play time", "easy to learn in ten minutes", "high replay value", "wooden pieces"],
     ["family game night", "parties", "couples"]),
    ("Toys & Games", "Building Toys", "Building Set", (12, 149), ["Brickly", "Constructo"],
     ["Space Station", "City Fire Truck", "Robot Coding Kit", "Castle", "Race Car"],
     {"Age": ["Ages 4+", "Ages 8+", "Ages 12+"]},
     ["compatible with major brick brands", "step-by-step instructions", "motor and app control",
      "over 500 pieces"], ["creative kids", "STEM learning", "rainy afternoons"]),
    ("Toys & Games", "Puzzles", "Jigsaw Puzzle", (10, 39), ["Piecewise", "Meeple Lane"],
     ["1000-Piece Landscape", "500-Piece Animals", "300-Piece Kids' Map", "2000-Piece Art"],
     {"Theme": ["Mountains", "Ocean", "City", "Botanical"]},
     ["thick precision-cut pieces", "poster included", "recycled board"], ["quiet evenings", "family time"]),
    ("Pet Supplies", "Dogs", "Dog Leash", (9, 49), ["Pawtrail", "Barkwell"],
     ["Reflective Nylon", "Hands-Free Running", "Retractable", "Leather"], {"Size": ["S", "M", "L"]},
     ["padded handle", "reflective stitching", "bungee section absorbs pulls", "rust-proof clip"],
     ["running with your dog", "city walks", "training puppies"]),
    ("Pet Supplies", "Dogs", "Dog Bed", (25, 149), ["Barkwell", "Snoozepaw"],
     ["Orthopedic Memory Foam", "Calming Donut", "Elevated Cooling", "Waterproof Outdoor"],
     {"Size": ["S", "M", "L", "XL"], "Color": ["Grey", "Brown", "Blue"]},
     ["removable washable cover", "non-slip bottom", "supports older joints"], ["senior dogs", "crate training",
                                                                                "anxious dogs"]),
    ("Pet Supplies", "Cats", "Cat Tree", (35, 199), ["Whiskerway", "Snoozepaw"],
     ["Multi-Level Tower", "Wall-Mounted Shelves", "Compact Scratching Post"], {"Color": ["Beige", "Grey"]},
     ["sisal-wrapped scratching posts", "cozy hideaway condo", "dangling toys", "anti-tip wall strap"],
     ["indoor cats", "multi-cat homes", "small apartments"]),
    ("Pet Supplies", "Cats", "Cat Litter", (9, 39), ["Whiskerway", "Purrfect Earth"],
     ["Clumping Clay", "Pine Pellet", "Silica Crystal", "Tofu Flushable"], {"Size": ["10 lb", "20 lb"]},
     ["99% dust-free", "locks in odour for 7 days", "lightweight", "biodegradable"],
     ["multi-cat homes", "allergy-prone owners"]),
    ("Office Products", "Writing Supplies", "Gel Pens", (5, 24), ["Inkwell & Co", "Draftline"],
     ["Fine 0.5 mm", "Retractable 0.7 mm", "Pastel", "Quick-Dry"], {"Pack": ["12-Pack", "24-Pack"]},
     ["smear-resistant ink", "comfort rubber grip", "assorted colors"], ["note-taking", "journaling",
                                                                       "students"]),
    ("Office Products", "Paper", "Notebook", (5, 32), ["Draftline", "Paperhaus"],
     ["Dotted A5 Hardcover", "Spiral College-Ruled", "Reusable Smart", "Leather Journal"],
     {"Color": ["Black", "Sage", "Burgundy"]},
     ["120 gsm ink-proof paper", "numbered pages", "lay-flat binding", "elastic closure"],
     ["bullet journaling", "lectures", "meeting notes"]),
    ("Office Products", "Office Furniture", "Office Chair", (89, 549), ["Postura", "Deskwell"],
     ["Ergonomic Mesh", "Executive Leather", "Kneeling", "Drafting Stool"], {"Color": ["Black", "Grey"]},
     ["adjustable lumbar support", "4D armrests", "breathable mesh back", "rated for 8 hours a day"],
     ["home offices", "long work days", "back pain"]),
    ("Office Products", "Desk Accessories", "Desk Lamp", (19, 129), ["Lumacore", "Deskwell"],
     ["LED Architect", "Clamp-On", "Wireless Charging Base", "Dimmable Minimal"],
     {"Color": ["Black", "White", "Brass"]},
     ["five color temperatures", "flicker-free light", "USB charging port", "memory of the last setting"],
     ["late-night study", "drawing", "home offices"]),
]


def make_items(seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    items = []
    for t, (dept, sub, kind, (lo, hi), brands, variants, attrs, features, uses) in enumerate(TYPES):
        combos = list(itertools.product(brands, variants, *attrs.values()))
        rng.shuffle(combos)
        for n, (brand, variant, *values) in enumerate(combos[:PER_TYPE], start=1):
            chosen = dict(zip(attrs, values))
            title = f"{brand} {variant} {kind}, " + ", ".join(values)
            feats = rng.sample(features, k=min(3, len(features)))
            description = (f"{variant} {kind.lower()} by {brand}, made for {rng.choice(uses)}. "
                           f"Features {feats[0]}, {feats[1]}" + (f" and {feats[2]}" if len(feats) > 2 else "")
                           + ".")
            items.append({"item_id": f"P{t:02d}{n:03d}", "title": title, "description": description,
                          "category": f"{dept} > {sub} > {kind}", "brand": brand,
                          "price": max(round(rng.uniform(lo, hi)) - 0.01, 0.99), "attributes": chosen})
    return items


def main() -> None:
    items = make_items()
    with (HERE / "catalog.jsonl").open("w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    print(f"wrote {len(items)} items in {len({i['category'].split(' > ')[0] for i in items})} departments")


if __name__ == "__main__":
    main()
