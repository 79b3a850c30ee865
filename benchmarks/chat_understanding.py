"""How well the chat reads a shopper's message: per-field precision and recall on held-out messages.

The messages are generated from templates written for this benchmark (`--seed 1`, the held-out set; `--seed 0`
is the development set the rules' thresholds may be looked at on), in phrasings a shop sees: ages in digits, words
and decades, someone else to shop for with their age and interests, several interests, soft budgets and hard
limits, dislikes. Each message carries its true fields. The reader is `genrec.apps.chat.interpret` on a fresh
session over the demo catalog with the MiniLM encoder (interests mapped to catalog categories by meaning).
An interest counts as right when it lands in one of the categories that fit the stated interest.

Run: python benchmarks/chat_understanding.py [--messages 300] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import time

from common import write_report

from genrec.api import demo_catalog
from genrec.apps.chat import ChatState, interpret
from genrec.model.embed import default_encoder

# stated interest -> the demo categories that honour it
INTERESTS = {
    "running": {"Running"}, "trail running": {"Running"}, "yoga": {"Yoga & Fitness", "Yoga Mat"},
    "camping": {"Camping"}, "hiking": {"Camping", "Running"}, "cycling": {"Cycling"}, "coffee": {"Coffee Maker"},
    "board games": {"Board Games", "Board Game"}, "puzzles": {"Puzzles", "Jigsaw Puzzle"},
    "jigsaws": {"Puzzles", "Jigsaw Puzzle"}, "skincare": {"Skincare"}, "cooking": {"Cooking", "Cookware"},
    "baking": {"Cooking", "Cookware"}, "cats": {"Cats"}, "my cat": {"Cats"}, "dogs": {"Dogs"}, "my dog": {"Dogs"},
    "lego": {"Building Toys", "Building Set"}, "building sets": {"Building Toys", "Building Set"},
    "reading": {"Fiction", "Novel", "Books"}, "novels": {"Fiction", "Novel"}, "thrillers": {"Fiction", "Novel"},
    "music": {"Audio"}, "podcasts": {"Audio"}, "drawing": {"Writing Supplies", "Paper", "Notebook",
                                                           "Children's Books", "Picture Book"},
    "writing": {"Writing Supplies", "Paper", "Notebook"}, "journaling": {"Paper", "Notebook", "Writing Supplies"},
    "fitness": {"Yoga & Fitness"}, "hair care": {"Hair Care"}, "shaving": {"Shaving & Grooming"},
    "gaming": {"Board Games", "Computer Accessories"}, "tea": {"Small Appliances", "Electric Kettle"},
}
RELATIONS = {"daughter": "female", "son": "male", "wife": "female", "husband": "male", "dad": "male",
             "mom": "female", "nephew": "male", "niece": "female", "sister": "female", "brother": "male",
             "grandma": "female", "grandpa": "male"}
WORDS = {8: "eight", 10: "ten", 12: "twelve", 16: "sixteen", 28: "twenty-eight", 34: "thirty-four",
         45: "forty-five", 52: "fifty-two", 67: "sixty-seven", 71: "seventy-one"}
DECADES = {25: "twenties", 35: "thirties", 45: "forties", 55: "fifties", 65: "sixties"}


def _age_phrase(rng: random.Random, age: int) -> tuple[str, int]:
    """A way to say one's own age, and the age it means (a decade means its middle)."""
    style = rng.randrange(6)
    if style == 4:
        return f"age {age}", age
    if style == 5:
        return f"{age} here", age
    if style == 0:
        return f"I'm {age}", age
    if style == 1:
        return f"I am a {age} year old", age
    if style == 2 and age in WORDS:
        return f"I'm {WORDS[age]}", age
    decade = min(DECADES, key=lambda d: abs(d - age))
    return f"I'm in my {DECADES[decade]}", decade


def _list(rng: random.Random, xs: list[str]) -> str:
    return xs[0] if len(xs) == 1 else ", ".join(xs[:-1]) + rng.choice([" and ", " & ", ", and "]) + xs[-1]


def message(rng: random.Random) -> tuple[str, dict]:
    """One message and its true fields."""
    truth: dict = {"age": None, "gender": None, "recipient": None, "recipient_age": None, "recipient_gender": None,
                   "interests": [], "recipient_interests": [], "budget": None, "max_price": None}
    parts = []
    if rng.random() < 0.6:
        phrase, age = _age_phrase(rng, rng.choice([28, 34, 45, 52, 67, 71, 25, 35]))
        truth["age"] = age
        if rng.random() < 0.4:
            who, g = rng.choice([("mom", "female"), ("dad", "male"), ("woman", "female"), ("guy", "male")])
            phrase += f" {who}" if phrase.endswith("old") else f", a {who},"
            truth["gender"] = g
        parts.append(phrase.rstrip(","))
    if rng.random() < 0.7:
        mine = rng.sample(sorted(INTERESTS), rng.randint(1, 3))
        truth["interests"] = mine
        if rng.random() < 0.3:  # phrasings the rules were not written from
            parts.append(rng.choice(["I've been getting into {} lately", "I spend my weekends on {}",
                                     "huge {} person", "my hobbies: {}"]).format(_list(rng, mine)))
        else:
            parts.append(rng.choice(["I love", "I'm really into", "I enjoy", "big fan of", "I like"]) + " " +
                         _list(rng, mine))
    if rng.random() < 0.45:
        rel = rng.choice(sorted(RELATIONS))
        truth["recipient"], truth["recipient_gender"] = rel, RELATIONS[rel]
        theirs = rng.sample(sorted(set(INTERESTS) - set(truth["interests"])), rng.randint(1, 2))
        truth["recipient_interests"] = theirs
        age = rng.choice([None, 8, 10, 12, 16])
        truth["recipient_age"] = age
        style = rng.randrange(6)
        he = {"female": "she", "male": "he"}[RELATIONS[rel]]
        if style == 4:
            parts.append(f"it's for my {rel}" + (f", {he}'s {age}" if age else "") +
                         f", {he} is obsessed with {_list(rng, theirs)}")
        elif style == 5:
            parts.append(f"something my {rel} would like" + (f" (age {age})" if age else "") +
                         f" - {he} loves {_list(rng, theirs)}")
        elif style == 0:
            parts.append(f"looking for a gift for my {rel}" + (f" ({age})" if age else "") +
                         f" who loves {_list(rng, theirs)}")
        elif style == 1:
            parts.append(f"my {rel}" + (f" is {age} and" if age else "") + f" is into {_list(rng, theirs)}")
        elif style == 2:
            parts.append(f"shopping for my {age} year old {rel}, " if age else f"shopping for my {rel}, ")
            parts[-1] += f"they like {_list(rng, theirs)}"
        else:
            parts.append(f"need a present for my {rel}" + (f", {age}," if age else "") +
                         f" - crazy about {_list(rng, theirs)}")
    if rng.random() < 0.5:
        amount = rng.choice([20, 30, 40, 50, 75, 100, 150])
        if rng.random() < 0.5:
            truth["budget"] = float(amount)
            parts.append(rng.choice([f"budget around ${amount}", f"my budget is {amount} dollars",
                                     f"about ${amount}", f"budget ~${amount}", f"${amount}-ish",
                                     f"around the {amount} dollar mark"]))
        else:
            truth["max_price"] = truth["budget"] = float(amount)
            parts.append(rng.choice([f"under {amount} bucks", f"no more than ${amount}", f"less than ${amount}",
                                     f"max ${amount}", f"keep it below ${amount}", f"nothing over {amount}",
                                     f"I can spend up to {amount}"]))
    if not parts:
        parts.append("just browsing, show me something nice")
    rng.shuffle(parts) if rng.random() < 0.3 else None
    text = rng.choice(["Hi! ", "Hello, ", "", "hey "]) + ". ".join(p[0].upper() + p[1:] for p in parts) + "."
    return text, truth


FEW_SHOT = [
    ("I'm 30, a woman, and I love yoga and coffee. Budget around $50.",
     {"age": 30, "gender": "female", "recipient": None, "recipient_age": None, "recipient_gender": None,
      "interests": ["yoga", "coffee"], "recipient_interests": [], "budget": 50, "max_price": None}),
    ("Looking for a gift for my son (9) who is into puzzles, under 40 bucks.",
     {"age": None, "gender": None, "recipient": "son", "recipient_age": 9, "recipient_gender": "male",
      "interests": [], "recipient_interests": ["puzzles"], "budget": 40, "max_price": 40}),
    ("Hi, 52 here. I enjoy camping. My wife likes skincare.",
     {"age": 52, "gender": None, "recipient": "wife", "recipient_age": None, "recipient_gender": "female",
      "interests": ["camping"], "recipient_interests": ["skincare"], "budget": None, "max_price": None}),
]


class ModelReader:
    """The base language model as the reader: few-shot prompted to write the fields as JSON (greedy, one line);
    its interest words go through the same category mapping as the rules', so only the extraction differs."""

    def __init__(self):
        from genrec.model.base_model import load_base_model

        self.model, self.tokenizer = load_base_model()

    def __call__(self, text: str, catalog, encoder) -> ChatState:
        import json

        import torch

        from genrec.apps.chat import map_interests
        from genrec.data.profile import UserProfile

        shots = "".join(f"Message: {m}\nJSON: {json.dumps(f)}\n" for m, f in FEW_SHOT)
        prompt = "Extract the shopper's details from the message as JSON.\n" + shots + f"Message: {text}\nJSON:"
        enc = self.tokenizer(prompt, return_tensors="pt")
        with torch.inference_mode():
            out = self.model.generate(**enc, max_new_tokens=120, do_sample=False,
                                      pad_token_id=self.tokenizer.pad_token_id)
        line = self.tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).split("\n")[0]
        try:
            f = json.loads(line.strip())
            assert isinstance(f, dict)
        except (ValueError, AssertionError):
            return ChatState()  # unreadable output: nothing understood

        def num(v):
            return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        def words(v):
            return [str(x) for x in v if isinstance(x, str)] if isinstance(v, list) else []

        def gender(v):
            return v if v in ("female", "male") else None

        age, r_age = num(f.get("age")), num(f.get("recipient_age"))
        mine = map_interests(words(f.get("interests")), catalog, encoder)[0]
        theirs = map_interests(words(f.get("recipient_interests")), catalog, encoder)[0]
        recipient = f.get("recipient") if isinstance(f.get("recipient"), str) else None
        try:
            profile = UserProfile(age=int(age) if age is not None and 0 < age <= 120 else None,
                                  gender=gender(f.get("gender")), interests=tuple(mine),
                                  budget=float(num(f.get("budget"))) if num(f.get("budget")) else None)
            rp = UserProfile(age=int(r_age) if r_age is not None and 0 < r_age <= 120 else None,
                             gender=gender(f.get("recipient_gender")), interests=tuple(theirs))
        except Exception:  # noqa: BLE001 - a field the model filled with garbage reads as nothing understood
            return ChatState()
        max_price = float(num(f.get("max_price"))) if num(f.get("max_price")) else None
        return ChatState(profile=profile, recipient=recipient, recipient_profile=rp, for_recipient=bool(recipient),
                         max_price=max_price)


def read_fields(state: ChatState) -> dict:
    p, r = state.profile, state.recipient_profile
    return {"age": p.age, "gender": p.gender, "recipient": state.recipient, "recipient_age": r.age if state.recipient
            else None, "recipient_gender": r.gender if state.recipient else None, "interests": list(p.interests),
            "recipient_interests": list(r.interests) if state.recipient else [], "budget": p.budget,
            "max_price": state.max_price}


def score(pairs: list[tuple[dict, dict]]) -> dict:
    """Per field: precision (right / said), recall (right / true). Interests: micro over stated interests."""
    out = {}
    for f in ("age", "gender", "recipient", "recipient_age", "recipient_gender", "budget", "max_price"):
        said = sum(got[f] is not None for _, got in pairs)
        true = sum(t[f] is not None for t, _ in pairs)
        right = sum(t[f] is not None and got[f] == t[f] for t, got in pairs)
        out[f] = {"precision": right / said if said else 0.0, "recall": right / true if true else 0.0,
                  "said": said, "true": true, "right": right}
    for f in ("interests", "recipient_interests"):
        said = right_said = true = found = 0
        for t, got in pairs:
            ok_sets = [INTERESTS[i] for i in t[f]]
            true += len(ok_sets)
            found += sum(any(g in ok for g in got[f]) for ok in ok_sets)
            said += len(got[f])
            right_said += sum(any(g in ok for ok in ok_sets) for g in got[f])
        out[f] = {"precision": right_said / said if said else 0.0, "recall": found / true if true else 0.0,
                  "said": said, "true": true, "right": found}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1, help="1: the held-out set; 0: the development set")
    ap.add_argument("--readers", default="rules,model", help="rules (genrec's chat) and/or model (the base LM)")
    ap.add_argument("--model-messages", type=int, default=30,
                    help="the model reads only the first N messages (it takes seconds per message on a CPU); the "
                    "rules are scored on those N too, for a like-for-like row")
    ap.add_argument("--name", default="chat_understanding")
    args = ap.parse_args()
    catalog, encoder = demo_catalog(), default_encoder()
    rng = random.Random(args.seed)
    msgs = [message(rng) for _ in range(args.messages)]
    readers = {"rules": lambda text: interpret(text, ChatState(), catalog, encoder).state}
    if "model" in args.readers:
        model_reader = ModelReader()
        readers["model"] = lambda text: model_reader(text, catalog, encoder)
    results = {}
    runs = [(n, msgs) for n in args.readers.split(",") if n != "model"]
    if "model" in readers:
        runs += [("rules (first N)", msgs[: args.model_messages]), ("model", msgs[: args.model_messages])]
        readers["rules (first N)"] = readers["rules"]
    for name, subset in runs:
        t0 = time.perf_counter()
        pairs = [(truth, read_fields(readers[name](text))) for text, truth in subset]
        results[name] = {"messages": len(subset), "ms_per_message": 1000 * (time.perf_counter() - t0) / len(subset),
                         "fields": score(pairs),
                         "examples": [{"message": m, "truth": t, "read": g}
                                      for (m, t), (_, g) in zip(msgs[:6], pairs[:6])]}
    cmd = (f"python benchmarks/chat_understanding.py --messages {args.messages} --seed {args.seed} "
           f"--readers {args.readers} --model-messages {args.model_messages}")
    data = {"command": cmd, "messages": len(msgs), "seed": args.seed, "readers": results}
    names = list(results)
    md = [f"# Chat understanding: {len(msgs)} held-out messages (seed {args.seed})", "",
          f"Command: `{cmd}`. Readers: `rules` is genrec's chat (`genrec/apps/understand.py`, interests mapped onto "
          "the demo catalog's categories by MiniLM similarity); `model` is the packaged base model (Gemma 3 270M, "
          "no adapter) prompted with three examples to write the fields as JSON, its interest words mapped the same "
          "way. Messages are generated from this script's templates; each carries its true fields. Precision: "
          "right / fields the reader filled; recall: right / fields the message states. "
          + "; ".join(f"{n}: {results[n]['messages']} messages, {results[n]['ms_per_message']:.0f} ms each"
                      for n in names) + " on this CPU (2 cores).",
          "", "| field | " + " | ".join(f"{n} precision | {n} recall" for n in names) + " | stated |",
          "|" + " --- |" * (2 * len(names) + 2)]
    for f in results[names[0]]["fields"]:
        md.append(f"| {f} | " + " | ".join(f"{results[n]['fields'][f]['precision']:.3f} | "
                                           f"{results[n]['fields'][f]['recall']:.3f}" for n in names)
                  + f" | {results[names[0]]['fields'][f]['true']} |")
    write_report(args.name, data, "\n".join(md))


if __name__ == "__main__":
    main()
