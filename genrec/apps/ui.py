"""genrec chat UI: a shopper talks, genrec recommends and explains. A thin Gradio layer over the public API:
message meaning comes from genrec.apps.chat, items from Recommender.recommend; this file only lays out the page.

Run: genrec ui [--host 127.0.0.1] [--port 7860]   (or, from a checkout: python ui.py)
"""

from __future__ import annotations

import argparse
import html
import time
from dataclasses import replace
from pathlib import Path

import gradio as gr

from genrec import Diversity, GenrecError, UserProfile
from genrec.api import DEMO_DIR, demo_adapter, get_recommender
from genrec.apps.chat import ChatState, interpret, not_interested
from genrec.resources import shipped

ADAPTERS = shipped("adapters")
NO_ADAPTER = "none (zero-shot)"
CSS = """.genrec-card {border: 1px solid #ddd; border-radius: 8px; padding: 8px 12px; margin: 2px 0}
.genrec-card .price {font-weight: 600} .genrec-card .why {color: #555; font-size: 0.9em}"""


def adapter_choices() -> list[str]:
    found = sorted(p.name for p in ADAPTERS.glob("*") if (p / "adapter_config.json").exists())
    return found + [NO_ADAPTER]


def default_adapter() -> str:
    a = demo_adapter()
    return a.name if a is not None else NO_ADAPTER


def card_html(r, catalog=None) -> str:
    """One item card; every catalog field is escaped, so item text can never become markup. A variant family
    shows as one card: its other colours, sizes or packs are listed on it."""
    e = html.escape
    price = f"${r.price:.2f}" if r.price is not None else "price n/a"
    why = f'<div class="why">{e(r.explanation)}</div>' if r.explanation else \
        '<div class="why pending">finding the words...</div>'
    variants = ""
    if r.variants:
        names = [catalog.get(v).display_title for v in r.variants[:3]] if catalog is not None else list(r.variants[:3])
        more = f" and {len(r.variants) - 3} more" if len(r.variants) > 3 else ""
        variants = (f'<div class="variants" data-variants="{len(r.variants)}">Also as: '
                    f'{e("; ".join(names))}{e(more)}</div>')
    return (f'<div class="genrec-card" data-item-id="{e(r.item_id)}" data-category="{e(r.category)}">'
            f'<b>{r.rank}. {e(r.title)}</b><br><span class="price">{price}</span> · {e(r.brand or "no brand")} · '
            f'{e(r.category)}{variants}{why}</div>')


def _recommender(adapter: str, catalog: str):
    """The shared Recommender for these settings (loaded once per setting, then reused by every session)."""
    demo = not catalog or Path(catalog) == DEMO_DIR / "catalog.jsonl"
    adapter_arg = "none" if adapter in (None, "", NO_ADAPTER) else ADAPTERS / adapter
    return get_recommender(None if demo else catalog, adapter_arg)


def _panel(state: ChatState):
    p = state.ranked_profile()
    return (p.age, p.gender or "", ", ".join(p.interests), p.budget, ", ".join(p.excluded_brands), state.max_price,
            _shopping_for(state), _summary(state))


def _shopping_for(state: ChatState) -> str:
    if not state.for_recipient:
        return "you" + (f" (gift ideas for your {state.recipient} are kept)" if state.recipient else "")
    return f"your {state.recipient}" + (f", for a {state.occasion}" if state.occasion else "")


def _summary(state: ChatState) -> dict:
    return {"profile": state.profile.to_dict(), "shopping_for": state.recipient if state.for_recipient else "you",
            "recipient": state.recipient_profile.to_dict() if state.recipient else None,
            "ranked_for": state.ranked_profile().to_dict(), "dislikes": list(state.dislikes),
            "not_interested": sorted(state.not_interested), "max_price": state.max_price,
            "shown": [r.item_id for r in state.shown]}


# A varied list in the chat: one card per variant family (the library default) and MMR on top.
UI_DIVERSITY = Diversity(one_per_family=True, mmr=0.3)


def _answer(state: ChatState, note: str, adapter, catalog, k, explain, varied=True):
    """Recommend for the session state, in two steps: yields (state, chat reply, latency line) as soon as the
    ranked cards exist, then again with their explanations."""
    rec = _recommender(adapter, catalog)  # first use of a setting loads the model (progress shown)
    t = time.perf_counter()
    steps = rec.recommend_stream(state.ranked_profile(), k=int(k), explain=bool(explain), filters=state.filters(),
                                 diversity=UI_DIVERSITY if varied else None)
    head = f"Understood: {html.escape(note)}. " if note else ""
    first = None
    for recs in steps:
        dt = time.perf_counter() - t
        state = replace(state, shown=tuple(recs))
        if not recs:
            yield state, head + "No items match everything you asked for; try a higher price or fewer exclusions.", ""
            return
        who = f" for your {state.recipient}" if state.for_recipient else ""
        if first is None:
            first = dt
            lat = f"cards in {dt:.2f} s" + (", explaining..." if explain else "")
        else:
            lat = f"cards in {first:.2f} s, explained in {dt:.2f} s"
        yield state, head + f"Here are {len(recs)} picks{who} (cards below).", lat


# gr.Progress as a default argument is Gradio's idiom: it shows tqdm bars (model loading) on the page. Both
# handlers are generators: the cards appear when the search ends and fill in their explanations after.
def respond(message, history, state, adapter, catalog, k, explain, varied=True,
            progress=gr.Progress(track_tqdm=True)):  # noqa: B008
    history = list(history or [])
    history.append({"role": "user", "content": html.escape(message or "")})
    try:
        rec = _recommender(adapter, catalog)
        turn = interpret(message or "", state, rec.catalog, rec.encoder)
        if not turn.recommend:
            history.append({"role": "assistant", "content": turn.note})
            yield ("", history, turn.state, "", *_panel(turn.state))
            return
        history.append({"role": "assistant", "content": "Looking..."})
        for now, reply, latency in _answer(turn.state, turn.note, adapter, catalog, k, explain, varied):
            history[-1] = {"role": "assistant", "content": reply}
            yield ("", history, now, latency, *_panel(now))
    except GenrecError as e:
        history.append({"role": "assistant", "content": f"Sorry, I could not use that: {html.escape(str(e))}"})
        yield ("", history, state, "", *_panel(state))


def update_profile(age, gender, interests, budget, brands, max_price, history, state, adapter, catalog, k, explain,
                   varied=True, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
    history = list(history or [])
    try:
        who = state.ranked_profile()
        edited = UserProfile.from_dict({
            **{k_: v for k_, v in who.to_dict().items() if k_ in ("location", "occupation", "free_text",
                                                                   "recent_items")},
            "age": int(age) if age not in (None, "") else None, "gender": gender or None,
            "interests": interests or None, "budget": float(budget) if budget else None,
            "excluded_brands": brands or None})
        if state.for_recipient:  # the panel shows whoever the list is for; brands stay the shopper's
            state = replace(state, recipient_profile=replace(edited, excluded_brands=()),
                            profile=replace(state.profile, excluded_brands=edited.excluded_brands))
        else:
            state = replace(state, profile=edited)
        state = replace(state, max_price=float(max_price) if max_price else None)
        history.append({"role": "assistant", "content": "Looking..."})
        for now, reply, latency in _answer(state, "your edited profile", adapter, catalog, k, explain, varied):
            history[-1] = {"role": "assistant", "content": reply}
            yield (history, now, latency, *_panel(now))
    except GenrecError as e:
        history.append({"role": "assistant", "content": f"Sorry, I could not use that profile: {html.escape(str(e))}"})
        yield (history, state, "", *_panel(state))


def build_app() -> gr.Blocks:
    with gr.Blocks(title="genrec: shop assistant") as app:
        state = gr.State(ChatState())  # per browser session: sessions never share it
        gr.Markdown("## genrec shop assistant\nTell me about yourself or what you need; I'll pick products "
                    "from the catalog and say why. Try *cheaper*, *not that brand*, *more like the second one*.")
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", height=320, sanitize_html=True)
                with gr.Row():
                    box = gr.Textbox(placeholder="I'm 34, just started running, budget about $100...",
                                     show_label=False, scale=5, elem_id="message")
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                latency = gr.Markdown(elem_id="latency")
                cards_anchor = gr.Column(elem_id="cards")
            with gr.Column(scale=2):
                gr.Markdown("### What I understood (edit and update)")
                age = gr.Number(label="Age", precision=0)
                gender = gr.Textbox(label="Gender")
                interests = gr.Textbox(label="Interests (comma-separated)")
                budget = gr.Number(label="Budget per item ($)")
                brands = gr.Textbox(label="Excluded brands (comma-separated)")
                max_price = gr.Number(label="Max price ($)")
                shopping_for = gr.Textbox(label="Shopping for", interactive=False, elem_id="shopping-for")
                update = gr.Button("Update recommendations")
                summary = gr.JSON(label="Session", elem_id="session")
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    adapter = gr.Dropdown(adapter_choices(), value=default_adapter(), label="Adapter (category)")
                    catalog = gr.Textbox(value=str(DEMO_DIR / "catalog.jsonl"), label="Catalog file", elem_id="catalog")
                    k = gr.Slider(1, 20, value=6, step=1, label="Items")
                    explain = gr.Checkbox(value=True, label="Explain each item")
                    varied = gr.Checkbox(value=True, label="Varied list (one card per product, MMR)")
        settings = [adapter, catalog, k, explain, varied]
        panel = [age, gender, interests, budget, brands, max_price, shopping_for, summary]
        send_args = {"fn": respond, "inputs": [box, chat, state, *settings],
                     "outputs": [box, chat, state, latency, *panel]}
        send.click(api_name="chat", **send_args)
        box.submit(api_name=False, **send_args)
        update.click(update_profile, [age, gender, interests, budget, brands, max_price, chat, state, *settings],
                     [chat, state, latency, *panel], api_name="update_profile")

        with cards_anchor:
            @gr.render(inputs=[state, *settings], triggers=[state.change])
            def cards(st: ChatState, adapter_v, catalog_v, k_v, explain_v, varied_v):
                cat = _recommender(adapter_v, catalog_v).catalog
                for r in st.shown:
                    with gr.Group():
                        gr.HTML(card_html(r, cat))
                        button = gr.Button("Not interested", size="sm", elem_classes=["not-interested"])

                        def dismiss(s, history, a, c, kk, ex, va, item_id=r.item_id, title=r.title):
                            s = not_interested(s, item_id)
                            for now, reply, lat in _answer(s, f"not showing {title} again", a, c, kk, ex, va):
                                yield [*history, {"role": "assistant", "content": reply}], now, lat, *_panel(now)

                        button.click(dismiss, [state, chat, *settings], [chat, state, latency, *panel],
                                     api_name=False)
    return app


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Serve the genrec chat UI on this machine.")
    ap.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: localhost only)")
    ap.add_argument("--port", type=int, default=7860)
    args = ap.parse_args(argv)
    print("genrec: loading the model and catalog index (first run converts the base model once)...")
    _recommender(default_adapter(), str(DEMO_DIR / "catalog.jsonl"))
    build_app().launch(server_name=args.host, server_port=args.port, css=CSS)


if __name__ == "__main__":
    main()
