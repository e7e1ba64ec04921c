"""One-off: adds severity, confidence and references to the rule files
written before the rule schema had them (issue 19). Kept so the choices
are reviewable in one place: severity by family with per-id overrides,
confidence from the rule's shape (a case-insensitive keyword-and-value
regex is medium, a literal prefix or checksum is high), references from
the provider's documentation root. Idempotent: a rule that already has
the fields is left alone.

    python3 rules/gen/annotate_existing.py rules/ai.toml ...
"""

import re
import sys

DOCS = {
    "ai21": "https://docs.ai21.com/", "anthropic": "https://docs.anthropic.com/en/api/overview",
    "anyscale": "https://docs.anyscale.com/", "assemblyai": "https://www.assemblyai.com/docs",
    "azure": "https://learn.microsoft.com/en-us/azure/", "cerebras": "https://inference-docs.cerebras.ai/",
    "clarifai": "https://docs.clarifai.com/", "cohere": "https://docs.cohere.com/",
    "deepgram": "https://developers.deepgram.com/docs", "deepseek": "https://api-docs.deepseek.com/",
    "elevenlabs": "https://elevenlabs.io/docs", "fireworks": "https://docs.fireworks.ai/",
    "groq": "https://console.groq.com/docs", "huggingface": "https://huggingface.co/docs/hub/security-tokens",
    "jina": "https://jina.ai/", "langfuse": "https://langfuse.com/docs", "langsmith": "https://docs.smith.langchain.com/",
    "mistral": "https://docs.mistral.ai/", "nvidia": "https://docs.api.nvidia.com/",
    "openai": "https://platform.openai.com/docs/api-reference/authentication",
    "openrouter": "https://openrouter.ai/docs", "perplexity": "https://docs.perplexity.ai/",
    "pinecone": "https://docs.pinecone.io/", "replicate": "https://replicate.com/docs",
    "stability": "https://platform.stability.ai/docs", "tavily": "https://docs.tavily.com/",
    "together": "https://docs.together.ai/", "voyage": "https://docs.voyageai.com/",
    "wandb": "https://docs.wandb.ai/", "xai": "https://docs.x.ai/",
    "1password": "https://developer.1password.com/docs/service-accounts/",
    "age": "https://age-encryption.org/v1", "alibaba": "https://www.alibabacloud.com/help/en/ram/",
    "aws": "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
    "cloudflare": "https://developers.cloudflare.com/fundamentals/api/",
    "confluent": "https://docs.confluent.io/cloud/current/access-management/authenticate/api-keys/api-keys.html",
    "databricks": "https://docs.databricks.com/en/dev-tools/auth/pat.html",
    "digitalocean": "https://docs.digitalocean.com/reference/api/", "doppler": "https://docs.doppler.com/docs/token-formats",
    "dynatrace": "https://docs.dynatrace.com/docs/manage/access-control/access-tokens",
    "elastic": "https://www.elastic.co/guide/en/cloud/current/ec-api-authentication.html",
    "fastly": "https://docs.fastly.com/en/guides/using-api-tokens", "flyio": "https://fly.io/docs/security/tokens/",
    "gcp": "https://cloud.google.com/docs/authentication", "grafana": "https://grafana.com/docs/grafana/latest/administration/service-accounts/",
    "heroku": "https://devcenter.heroku.com/articles/authentication", "hetzner": "https://docs.hetzner.cloud/",
    "ibm": "https://cloud.ibm.com/docs/account?topic=account-manapikey", "linode": "https://techdocs.akamai.com/linode-api/reference/api",
    "mongodb": "https://www.mongodb.com/docs/atlas/configure-api-access/", "neon": "https://neon.tech/docs/manage/api-keys",
    "netlify": "https://docs.netlify.com/api/get-started/", "planetscale": "https://planetscale.com/docs/concepts/service-tokens",
    "pulumi": "https://www.pulumi.com/docs/pulumi-cloud/access-management/access-tokens/",
    "railway": "https://docs.railway.com/guides/public-api", "render": "https://render.com/docs/api",
    "scaleway": "https://www.scaleway.com/en/docs/iam/concepts/", "supabase": "https://supabase.com/docs/guides/api/api-keys",
    "tailscale": "https://tailscale.com/kb/1085/auth-keys", "tencent": "https://www.tencentcloud.com/document/product/598",
    "terraform": "https://developer.hashicorp.com/terraform/cloud-docs/users-teams-organizations/api-tokens",
    "vault": "https://developer.hashicorp.com/vault/docs/concepts/tokens", "vercel": "https://vercel.com/docs/rest-api",
    "vultr": "https://www.vultr.com/api/",
    "jwt": "https://datatracker.ietf.org/doc/html/rfc7519", "private": "https://datatracker.ietf.org/doc/html/rfc7468",
    "ably": "https://ably.com/docs/auth", "bluesky": "https://docs.bsky.app/", "brevo": "https://developers.brevo.com/",
    "discord": "https://discord.com/developers/docs/reference", "facebook": "https://developers.facebook.com/docs/facebook-login/guides/access-tokens",
    "fcm": "https://firebase.google.com/docs/cloud-messaging", "getstream": "https://getstream.io/docs/",
    "intercom": "https://developers.intercom.com/docs/build-an-integration/learn-more/authentication",
    "line": "https://developers.line.biz/en/docs/messaging-api/", "linkedin": "https://learn.microsoft.com/en-us/linkedin/shared/authentication/authentication",
    "mailchimp": "https://mailchimp.com/developer/marketing/guides/quick-start/", "mailersend": "https://developers.mailersend.com/",
    "mailgun": "https://documentation.mailgun.com/docs/mailgun/api-reference/authentication/",
    "mailjet": "https://dev.mailjet.com/email/guides/", "mailtrap": "https://api-docs.mailtrap.io/",
    "mandrill": "https://mailchimp.com/developer/transactional/", "mastodon": "https://docs.joinmastodon.org/client/token/",
    "mattermost": "https://developers.mattermost.com/integrate/reference/personal-access-token/",
    "messagebird": "https://developers.messagebird.com/", "msteams": "https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook",
    "plivo": "https://www.plivo.com/docs/", "postmark": "https://postmarkapp.com/developer/api/overview",
    "pushbullet": "https://docs.pushbullet.com/", "pusher": "https://pusher.com/docs/channels/",
    "pushover": "https://pushover.net/api", "reddit": "https://github.com/reddit-archive/reddit/wiki/OAuth2",
    "resend": "https://resend.com/docs/api-reference/introduction", "sendbird": "https://sendbird.com/docs",
    "sendgrid": "https://www.twilio.com/docs/sendgrid/ui/account-and-settings/api-keys",
    "slack": "https://api.slack.com/concepts/token-types", "smtp2go": "https://developers.smtp2go.com/",
    "sparkpost": "https://developers.sparkpost.com/api/", "telegram": "https://core.telegram.org/bots/api",
    "telnyx": "https://developers.telnyx.com/", "twilio": "https://www.twilio.com/docs/iam/api-keys",
    "twitch": "https://dev.twitch.tv/docs/authentication/", "twitter": "https://developer.x.com/en/docs/authentication/overview",
    "vonage": "https://developer.vonage.com/en/getting-started/concepts/authentication",
    "webex": "https://developer.webex.com/docs/getting-started", "zendesk": "https://developer.zendesk.com/api-reference/introduction/security-and-auth/",
    "zulip": "https://zulip.com/api/api-keys",
    "artifactory": "https://jfrog.com/help/r/jfrog-platform-administration-documentation/access-tokens",
    "jfrog": "https://jfrog.com/help/r/jfrog-platform-administration-documentation/access-tokens",
    "buildkite": "https://buildkite.com/docs/apis/managing-api-tokens", "circleci": "https://circleci.com/docs/managing-api-tokens/",
    "clojars": "https://github.com/clojars/clojars-web/wiki/Deploy-Tokens", "cocoapods": "https://guides.cocoapods.org/making/getting-setup-with-trunk.html",
    "codecov": "https://docs.codecov.com/docs/codecov-tokens", "crates": "https://doc.rust-lang.org/cargo/reference/registry-authentication.html",
    "docker": "https://docs.docker.com/reference/cli/docker/login/", "dockerhub": "https://docs.docker.com/security/for-developers/access-tokens/",
    "gradle": "https://docs.gradle.org/current/userguide/declaring_repositories.html",
    "harness": "https://developer.harness.io/docs/platform/automation/api/add-and-manage-api-keys/",
    "hex": "https://hex.pm/docs/publish", "infracost": "https://www.infracost.io/docs/",
    "maven": "https://maven.apache.org/settings.html#servers", "npm": "https://docs.npmjs.com/about-access-tokens",
    "npmrc": "https://docs.npmjs.com/cli/v10/configuring-npm/npmrc", "nuget": "https://learn.microsoft.com/en-us/nuget/nuget-org/publish-a-package",
    "octopus": "https://octopus.com/docs/octopus-rest-api/how-to-create-an-api-key", "packagist": "https://packagist.org/about",
    "postman": "https://learning.postman.com/docs/developer/postman-api/authentication/", "prefect": "https://docs.prefect.io/",
    "pypi": "https://pypi.org/help/#apitoken", "pypirc": "https://packaging.python.org/en/latest/specifications/pypirc/",
    "readme": "https://docs.readme.com/main/reference/intro/authentication", "rubygems": "https://guides.rubygems.org/api-key-scopes/",
    "scalingo": "https://doc.scalingo.com/platform/cli/", "snyk": "https://docs.snyk.io/snyk-api/authentication-for-api",
    "sonarqube": "https://docs.sonarsource.com/sonarqube-server/latest/user-guide/managing-tokens/",
    "teamcity": "https://www.jetbrains.com/help/teamcity/configuring-your-user-profile.html#Managing+Access+Tokens",
    "travis": "https://docs.travis-ci.com/user/triggering-builds/", "yarn": "https://yarnpkg.com/configuration/yarnrc",
    "adyen": "https://docs.adyen.com/development-resources/api-credentials/", "airtable": "https://airtable.com/developers/web/guides/personal-access-tokens",
    "algolia": "https://www.algolia.com/doc/guides/security/api-keys/", "amplitude": "https://amplitude.com/docs/apis/authentication",
    "asana": "https://developers.asana.com/docs/personal-access-token", "auth0": "https://auth0.com/docs/get-started/applications/application-credentials",
    "binance": "https://developers.binance.com/docs/binance-spot-api-docs/", "box": "https://developer.box.com/guides/authentication/",
    "braintree": "https://developer.paypal.com/braintree/docs/", "bugsnag": "https://docs.bugsnag.com/",
    "calendly": "https://developer.calendly.com/how-to-authenticate-with-personal-access-tokens",
    "cloudinary": "https://cloudinary.com/documentation/how_to_integrate_cloudinary", "coinbase": "https://docs.cdp.coinbase.com/",
    "contentful": "https://www.contentful.com/developers/docs/references/authentication/",
    "datadog": "https://docs.datadoghq.com/account_management/api-app-keys/", "docusign": "https://developers.docusign.com/platform/auth/",
    "dropbox": "https://developers.dropbox.com/oauth-guide", "duffel": "https://duffel.com/docs/api/overview/making-requests/authentication",
    "duo": "https://duo.com/docs/adminapi", "easypost": "https://docs.easypost.com/docs/authentication",
    "ebay": "https://developer.ebay.com/api-docs/static/oauth-credentials.html", "etsy": "https://developers.etsy.com/documentation/essentials/authentication",
    "figma": "https://www.figma.com/developers/api#access-tokens", "flutterwave": "https://developer.flutterwave.com/docs/authentication",
    "frameio": "https://developer.frame.io/docs/getting-started/authentication", "freshdesk": "https://developers.freshdesk.com/api/#authentication",
    "gocardless": "https://developer.gocardless.com/api-reference/", "honeycomb": "https://docs.honeycomb.io/get-started/configure/environments/manage-api-keys/",
    "hubspot": "https://developers.hubspot.com/docs/api/private-apps", "jotform": "https://api.jotform.com/docs/",
    "kraken": "https://docs.kraken.com/api/", "kucoin": "https://www.kucoin.com/docs/", "launchdarkly": "https://docs.launchdarkly.com/home/account/api",
    "lightstep": "https://docs.lightstep.com/docs/create-and-manage-access-tokens", "linear": "https://developers.linear.app/docs/graphql/working-with-the-graphql-api",
    "lob": "https://docs.lob.com/#section/Authentication", "loggly": "https://documentation.solarwinds.com/en/success_center/loggly/",
    "logzio": "https://docs.logz.io/docs/user-guide/admin/authentication-tokens/", "looker": "https://cloud.google.com/looker/docs/api-auth",
    "mapbox": "https://docs.mapbox.com/accounts/guides/tokens/", "mixpanel": "https://docs.mixpanel.com/docs/orgs-and-projects/service-accounts",
    "mollie": "https://docs.mollie.com/reference/authentication", "newrelic": "https://docs.newrelic.com/docs/apis/intro-apis/new-relic-api-keys/",
    "nightfall": "https://docs.nightfall.ai/", "notion": "https://developers.notion.com/docs/authorization",
    "okta": "https://developer.okta.com/docs/guides/create-an-api-token/", "onelogin": "https://developers.onelogin.com/api-docs/2/getting-started/working-with-api-credentials",
    "opsgenie": "https://support.atlassian.com/opsgenie/docs/api-key-management/", "pagerduty": "https://support.pagerduty.com/main/docs/api-access-keys",
    "paypal": "https://developer.paypal.com/api/rest/authentication/", "paystack": "https://paystack.com/docs/api/authentication/",
    "plaid": "https://plaid.com/docs/api/", "razorpay": "https://razorpay.com/docs/api/authentication/",
    "rollbar": "https://docs.rollbar.com/docs/access-tokens", "salesforce": "https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_oauth_and_connected_apps.htm",
    "segment": "https://segment.com/docs/connections/find-writekey/", "sentry": "https://docs.sentry.io/account/auth-tokens/",
    "shippo": "https://docs.goshippo.com/docs/guides_general/authentication/", "shopify": "https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens",
    "splunk": "https://docs.splunk.com/Documentation/Splunk/latest/Data/UsetheHTTPEventCollector",
    "square": "https://developer.squareup.com/docs/build-basics/access-tokens", "stripe": "https://docs.stripe.com/keys",
    "sumologic": "https://help.sumologic.com/docs/manage/security/access-keys/", "surveymonkey": "https://developer.surveymonkey.com/api/v3/#authentication",
    "trello": "https://developer.atlassian.com/cloud/trello/guides/rest-api/authorization/", "typeform": "https://www.typeform.com/developers/get-started/personal-access-token/",
    "yandex": "https://yandex.cloud/en/docs/iam/concepts/authorization/api-key", "zoom": "https://developers.zoom.us/docs/integrations/oauth/",
    "atlassian": "https://support.atlassian.com/atlassian-account/docs/manage-api-tokens-for-your-atlassian-account/",
    "bitbucket": "https://support.atlassian.com/bitbucket-cloud/docs/access-tokens/", "codeberg": "https://docs.codeberg.org/advanced/access-token/",
    "gitea": "https://docs.gitea.com/development/api-usage", "github": "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/about-authentication-to-github#githubs-token-formats",
    "gitlab": "https://docs.gitlab.com/security/tokens/", "sourcegraph": "https://sourcegraph.com/docs/cli/how-tos/creating_an_access_token",
}

FILE_SEVERITY = {
    "ai.toml": "high", "cloud.toml": "critical", "keys.toml": "critical", "messaging.toml": "high",
    "registries.toml": "critical", "saas.toml": "high", "source-hosting.toml": "critical",
}

def severity_of(rule_id, text, file):
    rid = rule_id
    if any(w in rid for w in ("test", "publishable", "browser-key", "feed-token", "incoming-mail")):
        return "low" if "browser" in rid or "feed" in rid else "medium"
    if any(w in rid for w in ("webhook", "signing", "dsn", "upload", "insert-key", "write-key", "integration-key",
                              "trigger", "shipping", "hec", "http-source", "codecov")):
        return "medium"
    if rid.startswith(("stripe-live", "square", "paypal", "adyen", "braintree", "plaid", "coinbase", "binance",
                       "kraken", "kucoin", "razorpay", "flutterwave-secret", "paystack", "mollie", "gocardless")):
        return "critical"
    if rid == "jwt":
        return "medium"
    if rid.startswith(("aws-access-key-id", "tencent-secret-id", "alibaba-access-key-id", "scaleway-access-key")):
        return "high"  # an id: dangerous with its secret, which has its own rule
    if rid.startswith(("slack-bot", "slack-user", "slack-app", "slack-legacy", "discord-bot", "github", "gitlab-pat",
                       "gitlab-runner", "gitlab-deploy", "gitlab-ci", "gitlab-agent", "gitlab-scim", "bitbucket",
                       "gitea", "codeberg", "atlassian")):
        return "critical"
    return FILE_SEVERITY[file]

def confidence_of(block):
    regex = re.search(r"^regex = (.*)$", block, re.M)
    if "validator =" in block:
        return "high"
    if regex and "(?i" in regex.group(1):
        return "medium"
    return "high"

def annotate(path):
    file = path.rsplit("/", 1)[-1]
    text = open(path).read()
    parts = re.split(r"(?m)^(?=\[\[rules\]\])", text)
    out = []
    for part in parts:
        if not part.startswith("[[rules]]") or re.search(r"(?m)^severity = ", part):
            out.append(part)
            continue
        rule_id = re.search(r'(?m)^id = "([^"]+)"', part).group(1)
        provider = rule_id.split("-")[0]
        if rule_id.startswith("private-key") or rule_id == "jwt":
            provider = "jwt" if rule_id == "jwt" else "private"
        ref = DOCS[provider]
        if rule_id == "private-key-age":
            ref = DOCS["age"]
        lines = (f'severity = "{severity_of(rule_id, part, file)}"\n'
                 f'confidence = "{confidence_of(part)}"\n'
                 f'references = ["{ref}"]\n')
        m = re.search(r"(?m)^tags = .*\n", part)
        if not m:
            m = list(re.finditer(r"(?m)^(?:regex|min_entropy|validator|window|secret_group) = .*\n", part))[-1]
        out.append(part[: m.end()] + lines + part[m.end():])
    open(path, "w").write("".join(out))

if __name__ == "__main__":
    for p in sys.argv[1:]:
        annotate(p)
