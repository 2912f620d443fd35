#!/usr/bin/python3
"""The web page's three journeys in real headless Chromium, over mutual TLS.

Run by tests/integration/web_page_test.cc against a federation it started: each user gets a
browser profile of their own whose NSS database holds the federation's CA and that user's
certificate only, as a SITHS card would, and Chromium sends it on its own because of the policy
tools/setup installs (AutoSelectCertificateForUrls for 127.0.0.1 and the test CA).

  journeys.py --hub URL --node URL --certs DIR --variant V --out DIR

DIR holds ca/ca.crt and NAME.crt/NAME.key for anna (researcher), cia (clinician of vast) and olle
(operator of vast). Screenshots go to --out. Exits 0 when every journey passed; otherwise prints
what failed and where, with the page's own words.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

from selenium import webdriver
from selenium.common.exceptions import (StaleElementReferenceException, TimeoutException,
                                        WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

POLICY = "/etc/chromium/policies/managed/pmdb-browser-tests.json"
WAIT = 30


def run(args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Browser:
    """One user's Chromium: its own HOME (NSS database) and profile."""

    def __init__(self, certs, who, work, out):
        self.who = who or "nobody"
        self.out = out
        self.home = tempfile.mkdtemp(prefix=f"browser-{who or 'nobody'}-", dir=work)
        nss = os.path.join(self.home, ".pki", "nssdb")
        os.makedirs(nss)
        run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"])
        run(["certutil", "-A", "-d", f"sql:{nss}", "-n", "federation CA", "-t", "C,,",
             "-i", os.path.join(certs, "ca", "ca.crt")])
        if who:
            p12 = os.path.join(self.home, f"{who}.p12")
            run(["openssl", "pkcs12", "-export", "-in", os.path.join(certs, f"{who}.crt"),
                 "-inkey", os.path.join(certs, f"{who}.key"), "-out", p12, "-passout", "pass:",
                 "-name", who])
            run(["pk12util", "-i", p12, "-d", f"sql:{nss}", "-W", ""])
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=1280,1400",
                     f"--user-data-dir={os.path.join(self.home, 'profile')}"]:
            options.add_argument(flag)
        env = dict(os.environ, HOME=self.home)
        service = Service(executable_path="/usr/bin/chromedriver", env=env)
        self.driver = webdriver.Chrome(service=service, options=options)
        # The page redraws its tables after each answer: a row found just before is stale.
        self.wait = WebDriverWait(self.driver, WAIT,
                                  ignored_exceptions=[StaleElementReferenceException])

    def quit(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    def find(self, css):
        return self.wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def click(self, css):
        self.wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, css))).click()

    def text_in(self, css, text):
        try:
            self.wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
        except TimeoutException:
            raise AssertionError(f"{css} never said {text!r}; it says "
                                 f"{self.driver.find_element(By.CSS_SELECTOR, css).text!r}; "
                                 f"problem shown: {self.problem()!r}")

    def problem(self):
        found = self.driver.find_elements(By.ID, "problem")
        return found[0].text if found and found[0].is_displayed() else ""

    def rows(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, f"{css} tbody tr")

    def until(self, what, condition):
        try:
            return self.wait.until(lambda d: condition())
        except TimeoutException:
            self.driver.save_screenshot(os.path.join(self.out, f"failed-{self.who}.png"))
            raise AssertionError(f"{what}; problem shown: {self.problem()!r}; the page says: "
                                 f"{self.driver.find_element(By.TAG_NAME, 'main').text[:1500]!r}")

    def pick_term(self, input_css, typed, term_id):
        box = self.find(input_css)
        box.clear()
        box.send_keys(typed)
        option = self.find(f"{input_css}-list li[data-id='{term_id}']")
        option.click()

    def shot(self, out, name):
        self.driver.save_screenshot(os.path.join(out, f"{name}.png"))


def no_certificate(args, work):
    b = Browser(args.certs, None, work, args.out)
    try:
        # The handshake fails: Chromium shows its own error page, never the hub's.
        try:
            b.driver.get(args.hub)
            refused = ""
        except WebDriverException as e:
            refused = str(e)
        # (ERR_BAD_SSL_CLIENT_AUTH_CERT, or a closed socket when the refusal wins the race).
        body = b.driver.find_element(By.TAG_NAME, "body").text
        assert "ERR_" in refused + body and not b.driver.find_elements(By.ID, "who"), \
            f"without a certificate the hub was reached: {refused[:300]!r} {body[:300]!r}"
        b.shot(args.out, "no-certificate")
    finally:
        b.quit()


def researcher(args, work):
    b = Browser(args.certs, "anna", work, args.out)
    try:
        b.driver.get(args.hub)
        b.text_in("#who", "researcher")
        b.until("the regions table never listed six regions", lambda: len(b.rows("#regions")) == 6)
        # AND: a phenotype from autocomplete and a sex; OR: a group with NOT.
        b.pick_term("#value-1", "neoplasm of the breast", "HP:0100013")
        b.click("#groups .group .add-row")
        Select(b.find("#kind-2")).select_by_value("sex")
        Select(b.find("#value-2")).select_by_value("F")
        b.click("#add-group")
        Select(b.find("#kind-3")).select_by_value("age")
        b.find("#value-3").send_keys("80-")
        b.click("#not-3")
        query = b.find("#query-text").get_attribute("value")
        expected = "(hpo(HP:0100013) AND sex(F)) OR NOT age(80-)"
        assert query == expected, f"the builder wrote {query!r}, not {expected!r}"
        b.click("#run-count")
        b.text_in("#national", "National:")
        parts = b.rows("#parts")
        assert len(parts) == 6, f"{len(parts)} region rows"
        statuses = [r.find_elements(By.TAG_NAME, "td")[0].text for r in parts]
        assert all(s.startswith("ok") for s in statuses), f"region statuses {statuses}"
        numbers = [r.find_elements(By.TAG_NAME, "td")[1].text for r in parts]
        assert all(n.startswith("~") for n in numbers), f"noised numbers carry '~': {numbers}"
        b.driver.execute_script("document.getElementById('builder').scrollIntoView()")
        b.shot(args.out, "researcher-count")
        # A breakdown drawn as a chart, then sex x age band as a heat map.
        Select(b.find("#breakdown-by")).select_by_value("AGE_BAND")
        b.click("#run-breakdown")
        b.text_in("#answer-title", "age band")
        b.until("no bar in the chart", lambda: len(b.driver.find_elements(By.CSS_SELECTOR, "#chart rect.bar")) > 0)
        b.shot(args.out, "researcher-breakdown")
        Select(b.find("#breakdown-by")).select_by_value("SEX,AGE_BAND")
        b.click("#run-breakdown")
        b.find("#chart table.heat")
        b.driver.execute_script("document.getElementById('answer').scrollIntoView()")
        b.shot(args.out, "researcher-heat-map")
        # A variant's frequency per region.
        b.find("#frequency-variant").send_keys(args.variant)
        b.click("#run-frequency")
        b.until("no frequency rows", lambda: len(b.rows("#frequencies")) == 7)
        # History: every question, each with "run again"; the budget column was updated.
        history = b.driver.find_elements(By.CSS_SELECTOR, "#history li")
        assert len(history) == 4, f"{len(history)} history entries"
        budget = b.driver.find_element(By.CSS_SELECTOR, "#regions tbody tr .budget").text
        assert "of" in budget, f"budget cell {budget!r}"
        b.shot(args.out, "researcher")
        # A tablet's width: the same page, nothing cut off.
        b.driver.set_window_size(820, 1180)
        b.driver.execute_script("window.scrollTo(0, 0)")
        b.shot(args.out, "researcher-tablet")
        width = b.driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 830, f"the page is {width} px wide on a tablet"
    finally:
        b.quit()


def clinician_asks(args, work):
    b = Browser(args.certs, "cia", work, args.out)
    b.driver.get(args.hub)
    b.text_in("#who", "clinician")
    b.pick_term("#observed-input", "renal cyst", "HP:0000107")
    b.pick_term("#observed-input", "hepatic cysts", "HP:0001407")
    b.pick_term("#observed-input", "hypertension", "HP:0000822")
    chips = b.driver.find_elements(By.CSS_SELECTOR, "#observed li")
    assert len(chips) == 3, f"{len(chips)} observed terms"
    # With the keyboard only: type, arrow down to the first suggestion, Enter.
    excluded = b.find("#excluded-input")
    excluded.send_keys("proteinuria")
    b.find("#excluded-input-list li[data-id='HP:0000093']")
    excluded.send_keys(Keys.ARROW_DOWN, Keys.ENTER)
    b.until("the keyboard did not pick the term", lambda: [
        li.get_attribute("data-id") for li in b.driver.find_elements(By.CSS_SELECTOR, "#excluded li")] == ["HP:0000093"])
    b.click("#run-similar")
    b.until("no matches", lambda: len(b.rows("#matches")) >= 1)
    first = b.rows("#matches")[0]
    assert "vast" in first.text, f"the best match is not vast's case: {first.text!r}"
    assert "Renal cyst" in first.text, f"the matched terms have no labels: {first.text!r}"
    first.find_element(By.CSS_SELECTOR, "button.contact").click()
    b.find("#contact-reason").send_keys("Same phenotype and variant as my patient; segregation?")
    b.click("#contact-send")
    b.until("the request is not listed", lambda: len(b.rows("#my-requests")) == 1)
    row = b.rows("#my-requests")[0]
    assert "pending" in row.text, f"new request: {row.text!r}"
    b.shot(args.out, "clinician")
    return b, row.get_attribute("data-request")


def operator_answers(args, work, request_id):
    b = Browser(args.certs, "olle", work, args.out)
    try:
        b.driver.get(args.node)
        b.text_in("#who", "operator")
        b.text_in("#status", "Individuals")
        b.until("the request is not pending at the node",
                lambda: any(r.get_attribute("data-request") == request_id for r in b.rows("#contacts")))
        row = [r for r in b.rows("#contacts") if r.get_attribute("data-request") == request_id][0]
        row.find_element(By.CSS_SELECTOR, "input.answer-text").send_keys("Call the clinic on Monday")
        row.find_element(By.CSS_SELECTOR, "button.accept").click()
        b.until("the request was not accepted", lambda: any(
            r.get_attribute("data-request") == request_id and "accepted" in r.text
            for r in b.rows("#contacts")))
        # The audit log, searched by the clinician's identity.
        caller = b.find("#audit-caller")
        caller.send_keys("spiffe://test-fed/region/vast/clinician/cia")
        b.click("#run-audit")
        b.until("no audit entries for the clinician", lambda: len(b.rows("#audit")) >= 1 and all(
            "clinician/cia" in r.text for r in b.rows("#audit")))
        b.shot(args.out, "operator")
    finally:
        b.quit()


def clinician_sees_answer(b, args):
    b.driver.get(args.hub)
    b.text_in("#who", "clinician")
    b.click("#refresh-requests")
    b.until("the clinician does not see the answer",
            lambda: "accepted" in b.rows("#my-requests")[0].text)
    assert "Call the clinic on Monday" in b.rows("#my-requests")[0].text
    b.shot(args.out, "clinician-answered")


def wrong_place(args, work):
    # A researcher at a node's operators' page is refused.
    b = Browser(args.certs, "anna", work, args.out)
    try:
        b.driver.get(args.node)
        body = b.driver.find_element(By.TAG_NAME, "body").text
        assert "operators of region vast" in body, f"a researcher at the node saw {body[:300]!r}"
    finally:
        b.quit()


def main():
    parser = argparse.ArgumentParser()
    for name in ["hub", "node", "certs", "variant", "out"]:
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    if not os.path.exists(POLICY):
        print(f"{POLICY} is missing: run tools/setup (it lets Chromium choose the test "
              "certificate on its own)")
        return 1
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="pmdb-browser-")
    failed = []
    try:
        for name, journey in [("no certificate", no_certificate), ("researcher", researcher),
                              ("wrong place", wrong_place)]:
            try:
                journey(args, work)
                print(f"ok: {name}")
            except Exception:  # report every journey, then fail
                failed.append(name)
                print(f"FAILED: {name}\n{traceback.format_exc()}")
        clinician = None
        try:
            clinician, request_id = clinician_asks(args, work)
            print("ok: clinician asks")
            operator_answers(args, work, request_id)
            print("ok: operator answers")
            clinician_sees_answer(clinician, args)
            print("ok: clinician sees the answer")
        except Exception:
            failed.append("clinician and operator")
            print(f"FAILED: clinician and operator\n{traceback.format_exc()}")
        finally:
            if clinician is not None:
                clinician.quit()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
