"""The sandbox in a real browser: Debian's chromium, headless, driven by Playwright.

`make test` installs chromium with apt-get where it can; elsewhere this test is skipped. The
screenshots land in test-artifacts/; UPDATE_SANDBOX_SCREENSHOT=1 also copies the README's two
to docs/sandbox.png and docs/sandbox-charts.png.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import FixedClock
from sandbox.core import Sandbox
from sandbox.web import serving
from tests.conftest import NOW

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
README_SHOT = ROOT / "docs" / "sandbox.png"
README_CHARTS_SHOT = ROOT / "docs" / "sandbox-charts.png"
PHONE = (390, 844)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

if not CHROMIUM.exists():
    pytest.skip(
        f"browser test skipped: Debian's chromium is not at {CHROMIUM} "
        "(make test installs it with apt-get where apt is available and you are root)",
        allow_module_level=True,
    )
playwright = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
expect = playwright.expect


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, str]]:
    """The sandbox with 2,000 sample residents, its clock at Tue 24 Nov 2026 10:00 WIB until
    its base clock is moved, and its page's address."""
    sandbox = Sandbox(tmp_path / "world", count=2000, start=NOW, base_clock=FixedClock(NOW))
    async with serving(sandbox) as url:
        yield sandbox, url


@pytest.fixture
def sandbox_url(running: tuple[Sandbox, str]) -> str:
    return running[1]


@asynccontextmanager
async def browser_page(profile: Path, width: int, height: int) -> AsyncIterator[playwright.Page]:
    """A page of a fresh headless chromium profile with a viewport of that size."""
    async with playwright.async_playwright() as driver:
        context = await driver.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
            locale="id-ID",
            timezone_id="Asia/Jakarta",
        )
        try:
            yield context.pages[0] if context.pages else await context.new_page()
        finally:
            await context.close()


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[playwright.Page]:
    """A desktop-sized page."""
    async with browser_page(tmp_path / "profile", 1280, 860) as page:
        yield page


@pytest.fixture
async def phone(tmp_path: Path) -> AsyncIterator[playwright.Page]:
    """A page the size of a phone's screen (390 x 844 CSS pixels)."""
    async with browser_page(tmp_path / "profile", *PHONE) as page:
        yield page


def last_bot_message(page: playwright.Page) -> playwright.Locator:
    return page.locator(".msg.bot").last


async def press(page: playwright.Page, callback_prefix: str) -> None:
    """Press the first button of the bot's latest message whose data starts with the prefix."""
    button = last_bot_message(page).locator(f'[data-cb^="{callback_prefix}"]').first
    await expect(button).to_be_visible()
    await button.click()


async def send(page: playwright.Page, text: str) -> None:
    await page.fill("#text", text)
    await page.click("#send")


async def switch_to(page: playwright.Page, key: str) -> None:
    await page.click(f'.person[data-key="{key}"]')
    await expect(page.locator(".person.active")).to_have_attribute("data-key", key)


async def screenshot(page: playwright.Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"sandbox-{name}.png"
    await page.screenshot(path=str(path))
    return path


async def test_teen_books_staff_confirms_and_records_then_teen_sees_it(page, sandbox_url):
    await page.goto(sandbox_url)
    await switch_to(page, "teen")
    await page.click("#fill-cek")  # the card's NIK and KK, typed into /cek
    await page.click("#send")
    await expect(last_bot_message(page)).to_contain_text("NIK Anda AKTIF")

    await send(page, "/antre")
    # the first point offered (the kecamatan office): the demo's staff member works there
    for step in ("bk:svc:rekam", "bk:who:0", "bk:pt:", "bk:day:2026-11-25", "bk:slot:"):
        await press(page, step)
    await expect(last_bot_message(page)).to_contain_text("Pesan antrean ini?")
    await press(page, "bk:ok")
    confirmation = page.locator(".msg.bot", has_text="Antrean Anda tercatat")
    await expect(confirmation).to_contain_text("Rabu, 25 November 2026")
    code = await confirmation.locator("code").first.inner_text()
    await expect(page.locator(".msg.bot .photo img")).to_be_visible()  # the QR code
    await expect(last_bot_message(page).locator(".venue")).to_contain_text("Kanigoro")
    booked = await screenshot(page, "1-teen-booked")

    await switch_to(page, "staff")
    pending = page.locator(".msg.bot", has_text=f"Kode {code}")
    await pending.locator('[data-cb^="st:ok:"]').click()
    await expect(last_bot_message(page)).to_contain_text("dikonfirmasi")

    await page.click("#plus-day")  # the visit is tomorrow: move the sandbox clock
    await expect(page.locator("#clock-day")).to_have_text("Rabu, 25 November 2026")
    await expect(page.locator("#jobs-body")).to_contain_text("teen-reminders")
    await send(page, f"/masuk {code}")
    await press(page, "st:out:recorded:")
    await expect(last_bot_message(page)).to_contain_text("direkam")
    await screenshot(page, "2-staff-recorded")

    await switch_to(page, "teen")
    await expect(page.locator(".msg.bot", has_text="dikonfirmasi").first).to_be_visible()
    await expect(last_bot_message(page)).to_contain_text("sudah selesai")
    await send(page, "/jadwal")
    await expect(last_bot_message(page)).to_contain_text(code)
    await screenshot(page, "3-teen-recorded")
    if os.environ.get("UPDATE_SANDBOX_SCREENSHOT") == "1":
        shutil.copyfile(booked, README_SHOT)


async def test_the_header_clock_runs_on_and_the_jump_field_speaks_indonesian(page, running):
    sandbox, url = running
    await page.goto(url)
    await expect(page.locator("#clock-time")).to_have_text("10.00")
    sandbox.clock.base.advance(timedelta(minutes=5))  # real time passing, without a jump
    await expect(page.locator("#clock-time")).to_have_text("10.05")
    field = page.locator("#jump-to")
    await expect(field).to_have_value("24/11/2026 10.05")
    await field.fill("27/11/2026 07.30")
    await page.click("#jump")
    await expect(page.locator("#clock-day")).to_have_text("Jumat, 27 November 2026")
    await expect(page.locator("#clock-time")).to_have_text("07.30")
    await expect(field).to_have_value("27/11/2026 07.30")
    await field.fill("1 Desember 2026 08.00")
    await field.press("Enter")
    await expect(page.locator("#clock-day")).to_have_text("Selasa, 1 Desember 2026")


# How far the page reaches: its scrolling width, and the elements that end right of the screen.
MEASURE = """() => ({
    width: document.documentElement.scrollWidth,
    overflowing: [...document.querySelectorAll("body *")]
        .filter((node) => node.getBoundingClientRect().right > window.innerWidth + 0.5)
        .map((node) => node.id || node.className || node.tagName),
})"""


async def assert_fits_the_screen(page: playwright.Page) -> None:
    width, height = PHONE
    assert await page.evaluate(MEASURE) == {"width": width, "overflowing": []}
    send_button = await page.locator("#send").bounding_box()
    assert send_button is not None
    assert send_button["x"] >= 0
    assert send_button["x"] + send_button["width"] <= width
    assert send_button["y"] + send_button["height"] <= height
    await expect(page.locator("#send")).to_be_in_viewport(ratio=1)


async def test_at_phone_size_the_page_is_as_wide_as_the_screen_and_the_chat_gets_most_of_it(
    phone, sandbox_url
):
    page = phone
    await page.goto(sandbox_url)
    await expect(last_bot_message(page)).to_be_visible()
    await assert_fits_the_screen(page)
    messages = await page.locator("#messages").bounding_box()
    assert messages is not None
    assert messages["height"] > PHONE[1] * 0.6
    toggle = page.locator("#people-toggle")
    await expect(toggle).to_contain_text("Dewi")  # the identities folded into one line
    await expect(page.locator('.person[data-key="teen"]')).to_be_hidden()
    await screenshot(page, "4-phone")

    await toggle.click()  # unfolded, the list of identities and the card fit too
    await expect(page.locator('.person[data-key="staff"]')).to_be_visible()
    await assert_fits_the_screen(page)
    staff = page.locator('.person[data-key="staff"]')
    name = await staff.locator(".name").inner_text()
    await staff.click()
    await expect(staff).to_be_hidden()
    await expect(toggle.locator(".name")).to_have_text(name)

    await send(page, "/bantuan " + "x" * 120)  # a long word in the chat does not widen it
    await expect(page.locator(".msg.user").last).to_contain_text("xxxx")
    await page.click("#menu-button")
    await expect(page.locator("#menu .command").first).to_be_visible()
    await expect(page.locator("#menu")).to_be_in_viewport(ratio=1)
    await assert_fits_the_screen(page)


# Counts the command lists the page has received and acted on: the count moves in a task queued
# after the response was handed to the page's code, so once it moves the menu has been drawn or
# left closed.
COUNT_MENU_LOADS = """
window.menuLoads = 0;
const realFetch = window.fetch;
window.fetch = async (...args) => {
    const response = await realFetch(...args);
    if (String(args[0]).endsWith("/commands")) {
        const json = response.json.bind(response);
        response.json = async () => {
            const data = await json();
            setTimeout(() => (window.menuLoads += 1));
            return data;
        };
    }
    return response;
};
"""


async def test_the_menu_stays_closed_after_sending_and_closes_on_a_click_outside(page, sandbox_url):
    await page.add_init_script(COUNT_MENU_LOADS)
    loop = asyncio.get_running_loop()
    held: asyncio.Future[playwright.Route] | None = None
    requests = 0

    async def commands(route: playwright.Route) -> None:
        nonlocal held, requests
        requests += 1
        if held is not None and not held.done():
            held.set_result(route)  # answered later, by the test
        else:
            await route.continue_()

    await page.route("**/api/chats/*/commands", commands)
    await page.goto(sandbox_url)
    await expect(last_bot_message(page)).to_be_visible()
    menu = page.locator("#menu")
    await page.click("#menu-button")
    await expect(menu.locator('[data-command="bantuan"]')).to_be_visible()

    held = loop.create_future()
    await page.fill("#text", "/bantuan")  # typing a command asks for the menu again
    route = await held
    await page.click("#send")  # sending closes the menu before the commands arrive
    await expect(menu).to_be_hidden()
    await route.continue_()
    # A function, not an expression: the page's CSP forbids the eval() an expression needs.
    await page.wait_for_function("(n) => window.menuLoads >= n", arg=requests)
    await expect(page.locator(".msg.user").last).to_have_text(re.compile("/bantuan"))
    await expect(menu).to_be_hidden()

    await page.click("#menu-button")
    await expect(menu.locator('[data-command="bantuan"]')).to_be_visible()
    await page.click("#card h3")  # anywhere outside the menu
    await expect(menu).to_be_hidden()


async def test_an_officials_rekap_shows_charts_that_fit_a_phone_and_the_pdf_downloads(
    phone, sandbox_url
):
    page = phone
    await page.goto(sandbox_url)
    await page.click("#people-toggle")
    await switch_to(page, "official")
    await send(page, "/rekap")
    chart = page.locator(".msg.bot", has_text="dari diingatkan sampai rekam")
    image = chart.locator(".photo img")
    await expect(image).to_have_js_property("complete", True)
    assert await image.evaluate("(img) => img.naturalWidth") == 1080
    shown, bubble = await image.bounding_box(), await chart.bounding_box()
    assert shown is not None
    assert bubble is not None
    assert shown["x"] >= bubble["x"]
    assert shown["x"] + shown["width"] <= bubble["x"] + bubble["width"]
    assert shown["width"] > PHONE[0] * 0.75  # shrunk to the bubble, still most of the screen
    await assert_fits_the_screen(page)

    listing = page.locator(".msg.bot .doc", has_text=".csv")
    await expect(listing.locator(".doc-size")).to_have_text(re.compile(r"^\d+(,\d)? (B|KB)$"))
    await page.locator('[data-cb="rekap:pdf"]').click()
    pdf = page.locator(".msg.bot .doc", has_text=".pdf")
    await expect(pdf.locator(".doc-icon")).to_have_text("PDF")
    name = await pdf.locator(".doc-name").inner_text()
    assert re.fullmatch(r"outreach-3505102001-\d{4}-\d\d-\d\d\.pdf", name)
    fetched = await page.request.get(sandbox_url + await pdf.get_attribute("href"))
    assert fetched.headers["content-type"] == "application/pdf"
    assert (await fetched.body()).startswith(b"%PDF-")
    async with page.expect_download() as started:
        await pdf.click()
    assert (await started.value).suggested_filename == name
    await chart.evaluate("(node) => node.scrollIntoView()")
    shot = await screenshot(page, "5-official-charts")
    if os.environ.get("UPDATE_SANDBOX_SCREENSHOT") == "1":
        shutil.copyfile(shot, README_CHARTS_SHOT)
