import re
from tests.test_browser_workspace import server, sign_in, launch, shot  # noqa

def test_dbg(server):
    from playwright.sync_api import expect, sync_playwright
    base, passwords, proc = server
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.on("console", lambda m: print("CONSOLE", m.text))
        page.on("pageerror", lambda m: print("PAGEERR", m))
        page.set_default_timeout(30_000)
        sign_in(page, base, passwords["student"])
        page.get_by_role("button", name="Start").first.click()
        page.get_by_role("button", name="Start attempt 1").click()
        page.get_by_role("button", name="Got it").click()
        sex = page.get_by_label("Sex", exact=True)
        print("INFO", sex.evaluate("""t => { let el = t; let found = null; while (el) { if (el.id && el.id.startsWith('c') && getElement(el) && getElement(el).$refs && getElement(el).$refs.qRef) { found = el; break; } el = el.parentElement; }
           const root = found; 
           const r2 = t.closest('.q-select'); const vm = root && getElement(root);
           const q = vm && vm.$refs.qRef; return [q && typeof q.toggleOption, q && q.options && q.options.length, root && root.id, r2 && r2.id, r2 && r2.parentElement.id, !!vm, vm && Object.keys(vm.$refs||{}), typeof getElement]; }"""))
        sex.focus()
        page.keyboard.press("m")
        page.wait_for_timeout(1000)
        print("VALUE", sex.locator("xpath=ancestor::label").inner_text())
