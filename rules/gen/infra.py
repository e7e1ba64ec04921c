"""Rules for infrastructure credentials: IaaS/PaaS hosting, edge/serverless,
secrets managers, machine identity, containers/Kubernetes, VPN/zero-trust
and CI/CD services. Prints rules/infra.toml (see common.py)."""

import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    ALNUM_LOWER, ALNUM_UPPER, BASE62, BASE64, BASE64URL, HEX, LOWER, UPPER,
    assignments, rng, rule_file, token, uuid4,
)

END62 = r"(?:[^A-Za-z0-9]|$)"
END64U = r"(?:[^A-Za-z0-9_-]|$)"
RULES = []


def b64u(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def add(rid, name, desc, keywords, gen, env, key, sev, refs, tags, bad,
        regex=None, context=None, conf=None, extra_ex=(), extra_cx=(), min_entropy=None,
        nokw=None, window=None):
    r = rng(rid)
    vals = [gen(r) for _ in range(3)]
    ex = assignments(r, env, key, vals) + list(extra_ex)
    cx = [f"{env}={bad(r)}", f"{env}=${{{env}}}", f"{key}: \"\""] + list(extra_cx)
    d = dict(id=rid, name=name, description=desc, keywords=keywords,
             severity=sev, references=refs, tags=tags, examples=ex, counterexamples=cx)
    if regex:
        d["regex"] = regex
        d["confidence"] = conf or "high"
    else:
        d["context"] = context
        d["confidence"] = conf or "medium"
        cx.append(f'checksum = "{gen(r) if nokw is None else nokw(r)}"')
    if window:
        d["window"] = window
    if min_entropy is not None:
        d["min_entropy"] = min_entropy
    RULES.append(d)


def ctx(value, distance=None, multiline=False, pair=None):
    c = {"value": value}
    if distance:
        c["distance"] = distance
    if multiline:
        c["multiline"] = True
    if pair:
        c["pair"] = pair
    return c


# ------------------------------------------------------------ prefixed tokens

add("deno-deploy-access-token", "Deno Deploy access token",
    "Deno Deploy personal or organization access token: ddp_ or ddo_ followed by 36 base62 characters.",
    ["ddp_", "ddo_"], lambda r: r.choice(["ddp_", "ddo_"]) + token(r, BASE62, 36),
    "DENO_DEPLOY_TOKEN", "deno_deploy_token", "critical",
    ["https://docs.deno.com/deploy/manual/api/"], ["edge", "deno"],
    lambda r: "ddp_" + token(r, BASE62, 20),
    regex=r"\b(dd[po]_[A-Za-z0-9]{36})" + END62)


def k8s_sa(r):
    hdr = b64u(json.dumps({"alg": "RS256", "kid": token(r, BASE64URL, 43)}, separators=(",", ":")).encode())
    ns = r.choice(["default", "kube-system", "ci", "monitoring"])
    sa = r.choice(["deployer", "builder", "argocd-manager", "gitlab-runner"])
    body = {"iss": "kubernetes/serviceaccount",
            "kubernetes.io/serviceaccount/namespace": ns,
            "kubernetes.io/serviceaccount/secret.name": f"{sa}-token-{token(r, ALNUM_LOWER, 5)}",
            "kubernetes.io/serviceaccount/service-account.name": sa,
            "kubernetes.io/serviceaccount/service-account.uid": uuid4(r),
            "sub": f"system:serviceaccount:{ns}:{sa}"}
    pl = b64u(json.dumps(body, separators=(",", ":")).encode())
    return f"{hdr}.{pl}.{token(r, BASE64URL, 342)}"


add("kubernetes-service-account-token", "Kubernetes service account token",
    "Legacy Kubernetes service account token: a JWT whose payload starts with the issuer kubernetes/serviceaccount.",
    ["eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50Ii"], k8s_sa,
    "K8S_TOKEN", "token", "critical",
    ["https://kubernetes.io/docs/reference/access-authn-authz/authentication/#service-account-tokens"],
    ["kubernetes", "containers"],
    lambda r: "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50Ii." + token(r, BASE64URL, 10),
    regex=r"\b(eyJ[A-Za-z0-9_-]{10,400}\.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50Ii[A-Za-z0-9_-]{50,2000}\.[A-Za-z0-9_-]{200,700})" + END64U, window=2048)

add("rancher-api-token", "Rancher API token",
    "Rancher API bearer token: token- and a 5-character name, a colon, then 54 lower-case alphanumerics.",
    ["token-"], lambda r: "token-" + token(r, ALNUM_LOWER, 5) + ":" + token(r, ALNUM_LOWER, 54),
    "RANCHER_TOKEN", "rancher_token", "critical",
    ["https://ranchermanager.docs.rancher.com/reference-guides/about-the-api/api-tokens"],
    ["kubernetes", "rancher"],
    lambda r: "token-" + token(r, ALNUM_LOWER, 5) + ":" + token(r, ALNUM_LOWER, 30),
    regex=r"\b(token-[a-z0-9]{5}:[a-z0-9]{54})" + END62)

add("portainer-access-token", "Portainer access token",
    "Portainer API access token: ptr_ followed by 43 base64 characters and a = pad.",
    ["ptr_"], lambda r: "ptr_" + token(r, BASE64, 43) + "=",
    "PORTAINER_API_KEY", "portainer_api_key", "critical",
    ["https://docs.portainer.io/api/access"], ["containers", "portainer"],
    lambda r: "ptr_" + token(r, BASE64, 12),
    regex=r"\b(ptr_[A-Za-z0-9+/]{43}=)")

add("adobe-client-secret", "Adobe Developer client secret",
    "Adobe Developer Console (Adobe I/O) OAuth client secret: p8e- followed by 32 base64url characters.",
    ["p8e-"], lambda r: "p8e-" + token(r, BASE64URL, 32),
    "ADOBE_CLIENT_SECRET", "adobe_client_secret", "high",
    ["https://developer.adobe.com/developer-console/docs/guides/authentication/ServerToServerAuthentication/"],
    ["adobe", "oauth"], lambda r: "p8e-" + token(r, BASE64URL, 12),
    regex=r"\b(p8e-[A-Za-z0-9_-]{32})" + END64U)


def cf_tunnel(r):
    body = {"a": token(r, HEX, 32), "t": uuid4(r), "s": base64.b64encode(bytes(r.randrange(256) for _ in range(32))).decode()}
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


add("cloudflare-tunnel-token", "Cloudflare Tunnel token",
    "Cloudflare Tunnel (cloudflared) run token: base64 of a JSON object with account tag, tunnel id and tunnel secret.",
    ["eyJhIjoi"], cf_tunnel, "TUNNEL_TOKEN", "tunnel_token", "critical",
    ["https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/configure-tunnels/remote-tunnel-permissions/"],
    ["network", "cloudflare", "zero-trust"], lambda r: "eyJhIjoi" + token(r, BASE62, 30),
    regex=r"\b(eyJhIjoi[A-Za-z0-9+/]{120,260}={0,2})",
    extra_ex=["cloudflared tunnel run --token " + cf_tunnel(rng("cft", 9))])

add("netbird-personal-access-token", "NetBird personal access token",
    "NetBird API personal access token: nbp_ followed by 30 base62 characters and a 6-character checksum.",
    ["nbp_"], lambda r: "nbp_" + token(r, BASE62, 36),
    "NETBIRD_API_TOKEN", "netbird_token", "critical",
    ["https://docs.netbird.io/how-to/access-netbird-public-api"], ["network", "vpn", "netbird"],
    lambda r: "nbp_" + token(r, BASE62, 20),
    regex=r"\b(nbp_[A-Za-z0-9]{36})" + END62)

add("kong-konnect-access-token", "Kong Konnect access token",
    "Kong Konnect personal (kpat_) or system account (spat_) access token followed by 46 base62 characters.",
    ["kpat_", "spat_"], lambda r: r.choice(["kpat_", "spat_"]) + token(r, BASE62, 46),
    "KONNECT_TOKEN", "konnect_token", "critical",
    ["https://docs.konghq.com/konnect/org-management/access-tokens/"], ["api-gateway", "kong"],
    lambda r: "kpat_" + token(r, BASE62, 20),
    regex=r"\b([ks]pat_[A-Za-z0-9]{46})" + END62)


def op_secret_key(r):
    g = lambda n: token(r, ALNUM_UPPER, n)  # noqa: E731
    return f"A3-{g(6)}-{g(6)}-{g(5)}-{g(5)}-{g(5)}-{g(5)}"


add("1password-secret-key", "1Password account Secret Key",
    "1Password account Secret Key: A3- and six dash-separated groups of upper-case alphanumerics (34 characters).",
    ["A3-"], op_secret_key, "OP_SECRET_KEY", "op_secret_key", "critical",
    ["https://support.1password.com/secret-key/"], ["secrets-manager", "1password"],
    lambda r: "A3-" + token(r, ALNUM_UPPER, 6) + "-" + token(r, ALNUM_UPPER, 6),
    regex=r"\b(A3-[A-Z0-9]{6}-[A-Z0-9]{6}-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5})" + END62)


def perm_token(r):
    user = b64u(r.choice([b"admin", b"ci-bot", b"release", b"jsmith"])) + "=="
    name = base64.b64encode(f"{r.randrange(1, 200)}-{r.randrange(1, 9)}".encode()).decode()
    return f"perm:{user.rstrip('=') + '=='}.{name}.{token(r, BASE62, 30)}"


add("jetbrains-hub-permanent-token", "JetBrains Hub / YouTrack permanent token",
    "JetBrains Hub, YouTrack or TeamCity-Hub permanent token: perm:, base64 user name, base64 token name and a 30-character secret.",
    ["perm:"], perm_token, "YOUTRACK_TOKEN", "youtrack_token", "high",
    ["https://www.jetbrains.com/help/youtrack/server/manage-permanent-token.html"],
    ["jetbrains", "developer-tools"], lambda r: "perm:" + token(r, BASE62, 12),
    regex=r"\b(perm:[A-Za-z0-9+/]{2,40}={0,2}\.[A-Za-z0-9+/]{2,40}={0,2}\.[A-Za-z0-9]{30})" + END62)

add("infisical-service-token", "Infisical service token",
    "Infisical service token: st., a 24-hex token id, a 32-hex secret and a 32-hex key, dot-separated.",
    ["st."], lambda r: f"st.{token(r, HEX, 24)}.{token(r, HEX, 32)}.{token(r, HEX, 32)}",
    "INFISICAL_TOKEN", "infisical_token", "critical",
    ["https://infisical.com/docs/documentation/platform/token"], ["secrets-manager", "infisical"],
    lambda r: f"st.{token(r, HEX, 24)}.{token(r, HEX, 12)}",
    regex=r"\b(st\.[a-f0-9]{24}\.[a-f0-9]{32}\.[a-f0-9]{32})" + END62)


def qstash(r):
    body = {"UserID": uuid4(r), "Password": token(r, HEX, 32)}
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


add("upstash-qstash-token", "Upstash QStash token",
    "Upstash QStash API token: base64 of a JSON object starting {\"UserID\":.",
    ["eyJVc2VySUQi"], qstash, "QSTASH_TOKEN", "qstash_token", "high",
    ["https://upstash.com/docs/qstash/howto/publishing"], ["serverless", "upstash"],
    lambda r: "eyJVc2VySUQi" + token(r, BASE62, 12),
    regex=r"\b(eyJVc2VySUQiOi[A-Za-z0-9+/]{60,200}={0,2})")

add("azure-container-registry-password", "Azure Container Registry password",
    "Azure Container Registry admin or token password: 52 characters with the +ACR identifiable signature.",
    ["+ACR"], lambda r: token(r, BASE64, 42) + "+ACR" + r.choice("ABCD") + token(r, BASE62, 5),
    "ACR_PASSWORD", "acr_password", "critical",
    ["https://learn.microsoft.com/en-us/azure/container-registry/container-registry-authentication"],
    ["azure", "containers"], lambda r: token(r, BASE64, 20) + "+ACR" + token(r, BASE62, 5),
    regex=r"(?:^|[^A-Za-z0-9+/])([A-Za-z0-9+/]{42}\+ACR[A-D][A-Za-z0-9]{5})" + END62)

add("azure-search-admin-key", "Azure AI Search API key",
    "Azure AI Search (Cognitive Search) admin or query key: 52 characters with the AzSe identifiable signature.",
    ["AzSe"], lambda r: token(r, BASE62, 42) + "AzSe" + r.choice("ABCD") + token(r, BASE62, 5),
    "AZURE_SEARCH_KEY", "search_api_key", "high",
    ["https://learn.microsoft.com/en-us/azure/search/search-security-api-keys"],
    ["azure", "search"], lambda r: token(r, BASE62, 20) + "AzSe" + token(r, BASE62, 5),
    regex=r"\b([A-Za-z0-9]{42}AzSe[A-D][A-Za-z0-9]{5})" + END62)

add("azure-event-hub-key", "Azure Event Hubs shared access key",
    "Azure Event Hubs shared access key: 44 base64 characters with the +AEh identifiable signature.",
    ["+AEh"], lambda r: token(r, BASE64, 33) + "+AEh" + token(r, BASE64, 6) + "=",
    "EVENTHUB_KEY", "eventhub_key", "high",
    ["https://learn.microsoft.com/en-us/azure/event-hubs/authenticate-shared-access-signature"],
    ["azure", "messaging"], lambda r: token(r, BASE64, 12) + "+AEh" + token(r, BASE64, 6) + "=",
    regex=r"(?:^|[^A-Za-z0-9+/])([A-Za-z0-9+/]{33}\+AEh[A-Za-z0-9+/]{6}=)")

add("keeper-secrets-manager-one-time-token", "Keeper Secrets Manager one-time access token",
    "Keeper Secrets Manager one-time access token: a region code (US, EU, AU, GOV, JP, CA) and a colon, then 43 base64url characters.",
    ["US:", "EU:", "AU:", "GOV:", "JP:", "CA:"],
    lambda r: r.choice(["US", "EU", "AU", "GOV", "JP", "CA"]) + ":" + token(r, BASE64URL, 43),
    "KSM_TOKEN", "ksm_token", "critical",
    ["https://docs.keeper.io/en/keeperpam/secrets-manager/about/one-time-token"],
    ["secrets-manager", "keeper"], lambda r: "US:" + token(r, BASE64URL, 20),
    regex=r"\b((?:US|EU|AU|GOV|JP|CA):[A-Za-z0-9_-]{43})" + END64U, conf="medium", min_entropy=4.0)

add("appwrite-api-key", "Appwrite API key",
    "Appwrite server API key: standard_ followed by 256 hex characters.",
    ["standard_"], lambda r: "standard_" + token(r, HEX, 256),
    "APPWRITE_API_KEY", "appwrite_api_key", "critical",
    ["https://appwrite.io/docs/advanced/security/api-keys"], ["backend", "appwrite"],
    lambda r: "standard_" + token(r, HEX, 64),
    regex=r"\b(standard_[a-f0-9]{256})" + END62)

# ------------------------------------------------------------ context rules

NGROK = r"[1-9][A-Za-z0-9]{26}_[A-Za-z0-9]{21}"
add("ngrok-authtoken", "ngrok authtoken or API key",
    "ngrok agent authtoken or API key: 27 base62 characters starting with a digit, an underscore, then 21 base62, near ngrok.",
    ["ngrok"], lambda r: r.choice("123456789") + token(r, BASE62, 26) + "_" + token(r, BASE62, 21),
    "NGROK_AUTHTOKEN", "ngrok_authtoken", "high",
    ["https://ngrok.com/docs/agent/#authtokens"], ["network", "ngrok"],
    lambda r: "2" + token(r, BASE62, 20) + "_" + token(r, BASE62, 10),
    context=ctx(NGROK), extra_ex=["ngrok config add-authtoken " + "2" + token(rng("ngk", 1), BASE62, 26) + "_" + token(rng("ngk", 2), BASE62, 21)])

add("bitwarden-secrets-manager-access-token", "Bitwarden Secrets Manager access token",
    "Bitwarden Secrets Manager machine-account access token: 0., a UUID, a 30-character secret and a 24-character base64 key.",
    ["bws_access", "bitwarden"],
    lambda r: f"0.{uuid4(r)}.{token(r, BASE62, 30)}:{token(r, BASE64, 22)}==",
    "BWS_ACCESS_TOKEN", "bitwarden_access_token", "critical",
    ["https://bitwarden.com/help/access-tokens/"], ["secrets-manager", "bitwarden"],
    lambda r: f"0.{uuid4(r)}.{token(r, BASE62, 12)}",
    context=ctx(r"0\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[A-Za-z0-9]{30}:[A-Za-z0-9+/]{22}=="))

add("ovh-application-secret", "OVHcloud application secret",
    "OVHcloud API application secret: 32 alphanumerics near OVH application-secret names.",
    ["ovh_application_secret", "ovh_app_secret", "application_secret"],
    lambda r: token(r, BASE62, 32), "OVH_APPLICATION_SECRET", "ovh_application_secret", "high",
    ["https://help.ovhcloud.com/csm/en-gb-api-getting-started-ovhcloud-api?id=kb_article_view&sysparm_article=KB0042784"],
    ["cloud", "ovh"], lambda r: token(r, BASE62, 20),
    context=ctx(r"[A-Za-z0-9]{32}"))

add("ovh-consumer-key", "OVHcloud consumer key",
    "OVHcloud API consumer key (the per-user credential): 32 alphanumerics near OVH consumer-key names.",
    ["ovh_consumer_key", "consumer_key\": \"", "ovh-consumer"],
    lambda r: token(r, BASE62, 32), "OVH_CONSUMER_KEY", "ovh_consumer_key", "high",
    ["https://help.ovhcloud.com/csm/en-gb-api-getting-started-ovhcloud-api?id=kb_article_view&sysparm_article=KB0042784"],
    ["cloud", "ovh"], lambda r: token(r, BASE62, 20),
    context=ctx(r"[A-Za-z0-9]{32}"))

add("backblaze-b2-application-key", "Backblaze B2 application key",
    "Backblaze B2 application key: K, three digits and 27 base64 characters (31 in all), near B2 key names.",
    ["backblaze", "b2_application_key", "b2_app_key", "b2_key"],
    lambda r: "K00" + r.choice("0123456789") + token(r, BASE64, 27),
    "B2_APPLICATION_KEY", "b2_application_key", "critical",
    ["https://www.backblaze.com/docs/cloud-storage-application-keys"], ["cloud", "storage", "backblaze"],
    lambda r: "K00" + token(r, BASE64, 12),
    context=ctx(r"K[0-9]{3}[A-Za-z0-9+/]{27}", pair={"name": "key-id", "value": r"[0-9a-f]{25}|[0-9a-f]{12}"}))

add("wasabi-secret-key", "Wasabi secret access key",
    "Wasabi S3-compatible secret access key: 40 base64 characters near Wasabi names.",
    ["wasabi"], lambda r: token(r, BASE64, 40), "WASABI_SECRET_KEY", "wasabi_secret_key", "critical",
    ["https://docs.wasabi.com/docs/access-keys-1"], ["cloud", "storage", "wasabi"],
    lambda r: token(r, BASE64, 24),
    context=ctx(r"[A-Za-z0-9+/]{40}", pair={"name": "access-key", "value": r"[A-Z0-9]{20}"}))

add("rackspace-api-key", "Rackspace API key",
    "Rackspace Cloud API key: 32 hex characters near Rackspace names.",
    ["rackspace"], lambda r: token(r, HEX, 32), "RACKSPACE_API_KEY", "rackspace_api_key", "critical",
    ["https://docs.rackspace.com/docs/cloud-identity/v2/getting-started/authenticate"], ["cloud", "rackspace"],
    lambda r: token(r, HEX, 20), context=ctx(r"[a-f0-9]{32}"))

add("exoscale-api-secret", "Exoscale API secret",
    "Exoscale API secret: 43 base64url characters near Exoscale names, paired with an EXO-prefixed API key.",
    ["exoscale"], lambda r: token(r, BASE64URL, 43), "EXOSCALE_API_SECRET", "exoscale_api_secret", "critical",
    ["https://community.exoscale.com/documentation/iam/quick-start/"], ["cloud", "exoscale"],
    lambda r: token(r, BASE64URL, 20),
    context=ctx(r"[A-Za-z0-9_-]{43}", pair={"name": "api-key", "value": r"EXO[a-f0-9]{24}"}))

add("civo-api-key", "Civo API key",
    "Civo API key: 50 alphanumerics near Civo API key names.",
    ["civo_token", "civo_api", "civo-api"], lambda r: token(r, BASE62, 50),
    "CIVO_TOKEN", "civo_api_key", "critical",
    ["https://www.civo.com/api"], ["cloud", "civo"], lambda r: token(r, BASE62, 30),
    context=ctx(r"[A-Za-z0-9]{50}"))

add("cloudsmith-api-key", "Cloudsmith API key",
    "Cloudsmith API key: 40 hex characters near Cloudsmith names.",
    ["cloudsmith"], lambda r: token(r, HEX, 40), "CLOUDSMITH_API_KEY", "cloudsmith_api_key", "critical",
    ["https://help.cloudsmith.io/docs/api-key"], ["registry", "cloudsmith"],
    lambda r: token(r, HEX, 24), context=ctx(r"[a-f0-9]{40}"))

add("consul-acl-token", "HashiCorp Consul ACL token",
    "HashiCorp Consul ACL token (secret id): a UUID near Consul token names.",
    ["consul_http_token", "consul_token", "consul_acl", "consul_master_token"],
    uuid4, "CONSUL_HTTP_TOKEN", "consul_token", "critical",
    ["https://developer.hashicorp.com/consul/docs/security/acl/tokens"], ["hashicorp", "consul"],
    lambda r: token(r, HEX, 8) + "-" + token(r, HEX, 4),
    context=ctx(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"))

add("nomad-acl-token", "HashiCorp Nomad ACL token",
    "HashiCorp Nomad ACL token (secret id): a UUID near Nomad token names.",
    ["nomad_token", "nomad_acl"], uuid4, "NOMAD_TOKEN", "nomad_token", "critical",
    ["https://developer.hashicorp.com/nomad/docs/concepts/acl"], ["hashicorp", "nomad"],
    lambda r: token(r, HEX, 8) + "-" + token(r, HEX, 4),
    context=ctx(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"))

add("cyberark-conjur-api-key", "CyberArk Conjur API key",
    "CyberArk Conjur host or user API key: 50 to 56 lower-case alphanumerics near Conjur names.",
    ["conjur_authn_api_key", "conjur_api_key", "conjur"], lambda r: token(r, ALNUM_LOWER, r.randrange(51, 56)),
    "CONJUR_AUTHN_API_KEY", "conjur_api_key", "critical",
    ["https://docs.cyberark.com/conjur-open-source/latest/en/content/developer/conjur_api/api_authenticate.htm"],
    ["secrets-manager", "cyberark"], lambda r: token(r, ALNUM_LOWER, 30),
    context=ctx(r"[a-z0-9]{50,56}"))

add("jenkins-api-token", "Jenkins API token",
    "Jenkins user API token: 11 followed by 32 hex characters, near Jenkins names.",
    ["jenkins"], lambda r: "11" + token(r, HEX, 32), "JENKINS_API_TOKEN", "jenkins_token", "critical",
    ["https://www.jenkins.io/doc/book/system-administration/authenticating-scripted-clients/"],
    ["ci", "jenkins"], lambda r: "11" + token(r, HEX, 20), context=ctx(r"11[a-f0-9]{32}"),
    nokw=lambda r: "11" + token(r, HEX, 32))

add("kubeadm-bootstrap-token", "Kubernetes bootstrap token",
    "Kubernetes (kubeadm) bootstrap token: 6 and 16 lower-case alphanumerics separated by a dot, near bootstrap-token names.",
    ["kubeadm", "bootstrap-token", "bootstrap_token"],
    lambda r: token(r, ALNUM_LOWER, 6) + "." + token(r, ALNUM_LOWER, 16),
    "KUBEADM_TOKEN", "bootstrap_token", "critical",
    ["https://kubernetes.io/docs/reference/access-authn-authz/bootstrap-tokens/"], ["kubernetes"],
    lambda r: token(r, ALNUM_LOWER, 6) + "." + token(r, ALNUM_LOWER, 8),
    context=ctx(r"[a-z0-9]{6}\.[a-z0-9]{16}"),
    extra_ex=["kubeadm join 10.0.0.5:6443 --token " + token(rng("kb", 1), ALNUM_LOWER, 6) + "." + token(rng("kb", 2), ALNUM_LOWER, 16)])

add("zerotier-api-token", "ZeroTier Central API token",
    "ZeroTier Central API token: 32 alphanumerics near ZeroTier names.",
    ["zerotier"], lambda r: token(r, BASE62, 32), "ZEROTIER_CENTRAL_TOKEN", "zerotier_api_token", "critical",
    ["https://docs.zerotier.com/api/tokens/"], ["network", "vpn", "zerotier"],
    lambda r: token(r, BASE62, 20), context=ctx(r"[A-Za-z0-9]{32}"))

add("akeyless-access-key", "Akeyless access key",
    "Akeyless API access key: 43 base64 characters and a pad (44 in all) near Akeyless names, paired with a p- access id.",
    ["akeyless"], lambda r: token(r, BASE64, 43) + "=", "AKEYLESS_ACCESS_KEY", "akeyless_access_key", "critical",
    ["https://docs.akeyless.io/docs/api-key"], ["secrets-manager", "akeyless"],
    lambda r: token(r, BASE64, 20) + "=",
    context=ctx(r"[A-Za-z0-9+/]{43}", pair={"name": "access-id", "value": r"p-[a-z0-9]{12,14}"}))

add("infisical-universal-auth-client-secret", "Infisical universal auth client secret",
    "Infisical machine identity universal-auth client secret: 64 hex characters near Infisical names.",
    ["infisical"], lambda r: token(r, HEX, 64), "INFISICAL_CLIENT_SECRET", "infisical_client_secret", "critical",
    ["https://infisical.com/docs/documentation/platform/identities/universal-auth"],
    ["secrets-manager", "infisical"], lambda r: token(r, HEX, 32), context=ctx(r"[a-f0-9]{64}"))

add("huaweicloud-secret-access-key", "Huawei Cloud secret access key",
    "Huawei Cloud secret access key (SK): 40 alphanumerics near Huawei Cloud names, paired with a 20-character access key.",
    ["huaweicloud", "huawei_cloud", "huawei_sk", "hwcloud"], lambda r: token(r, BASE62, 40),
    "HUAWEICLOUD_SDK_SK", "huaweicloud_secret_key", "critical",
    ["https://support.huaweicloud.com/intl/en-us/usermanual-ca/ca_01_0003.html"], ["cloud", "huawei"],
    lambda r: token(r, BASE62, 24),
    context=ctx(r"[A-Za-z0-9]{40}", pair={"name": "access-key", "value": r"[A-Z0-9]{20}"}))

add("equinix-metal-api-token", "Equinix Metal API token",
    "Equinix Metal (formerly Packet) API auth token: 32 alphanumerics near Metal/Packet auth-token names.",
    ["metal_auth_token", "packet_auth_token", "equinix"], lambda r: token(r, BASE62, 32),
    "METAL_AUTH_TOKEN", "metal_auth_token", "critical",
    ["https://deploy.equinix.com/developers/docs/metal/identity-access-management/api-keys/"],
    ["cloud", "equinix"], lambda r: token(r, BASE62, 20), context=ctx(r"[A-Za-z0-9]{32}"))

add("codefresh-api-key", "Codefresh API key",
    "Codefresh API key: 24 hex characters, a dot, then 32 hex characters, near Codefresh names.",
    ["codefresh"], lambda r: token(r, HEX, 24) + "." + token(r, HEX, 32),
    "CF_API_KEY_CODEFRESH", "codefresh_api_key", "critical",
    ["https://codefresh.io/docs/docs/integrations/codefresh-api/"], ["ci", "codefresh"],
    lambda r: token(r, HEX, 24) + "." + token(r, HEX, 10), context=ctx(r"[a-f0-9]{24}\.[a-f0-9]{32}"))

add("drone-ci-token", "Drone CI personal token",
    "Drone CI personal API token: 32 alphanumerics near DRONE_TOKEN.",
    ["drone_token"], lambda r: token(r, BASE62, 32), "DRONE_TOKEN", "drone_token", "critical",
    ["https://docs.drone.io/cli/setup/"], ["ci", "drone"], lambda r: token(r, BASE62, 16),
    context=ctx(r"[A-Za-z0-9]{32}"))

add("appveyor-api-key", "AppVeyor API key",
    "AppVeyor API key: v2. followed by 20 lower-case alphanumerics (older keys: 20 characters alone), near AppVeyor names.",
    ["appveyor"], lambda r: "v2." + token(r, ALNUM_LOWER, 20), "APPVEYOR_API_TOKEN", "appveyor_api_key", "critical",
    ["https://www.appveyor.com/docs/api/"], ["ci", "appveyor"], lambda r: "v2." + token(r, ALNUM_LOWER, 10),
    context=ctx(r"(?:v2\.)?[a-z0-9]{20}"))

add("openshift-oauth-access-token", "OpenShift OAuth access token",
    "Red Hat OpenShift OAuth access token (oc login / API bearer): sha256~ followed by 43 base64url characters.",
    ["sha256~"], lambda r: "sha256~" + token(r, BASE64URL, 43),
    "OPENSHIFT_TOKEN", "openshift_token", "critical",
    ["https://docs.openshift.com/container-platform/4.14/authentication/understanding-authentication.html"],
    ["kubernetes", "openshift"], lambda r: "sha256~" + token(r, BASE64URL, 20),
    regex=r"(sha256~[A-Za-z0-9_-]{43})" + END64U,
    extra_ex=["oc login --token=sha256~" + token(rng("oc", 1), BASE64URL, 43) + " --server=https://api.ocp.acme.io:6443"])


def argocd(r):
    hdr = b64u(b'{"alg":"HS256","typ":"JWT"}')
    body = {"iss": "argocd", "sub": r.choice(["admin", "proj:default:ci", "ci-bot"]) + ":apiKey",
            "nbf": 1700000000 + r.randrange(10**7), "iat": 1700000000 + r.randrange(10**7), "jti": uuid4(r)}
    return f"{hdr}.{b64u(json.dumps(body, separators=(',', ':')).encode())}.{token(r, BASE64URL, 43)}"


add("argocd-api-token", "Argo CD API token",
    "Argo CD account or project API token: a JWT whose payload starts with the issuer argocd.",
    ["eyJpc3MiOiJhcmdvY2Qi"], argocd, "ARGOCD_AUTH_TOKEN", "argocd_auth_token", "critical",
    ["https://argo-cd.readthedocs.io/en/stable/user-guide/commands/argocd_account_generate-token/"],
    ["ci", "kubernetes", "argocd"],
    lambda r: "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJhcmdvY2Qi." + token(r, BASE64URL, 8),
    regex=r"\b(eyJ[A-Za-z0-9_-]{10,200}\.eyJpc3MiOiJhcmdvY2Qi[A-Za-z0-9_-]{20,1000}\.[A-Za-z0-9_-]{40,400})" + END64U,
    window=1024)

add("google-oauth-refresh-token", "Google OAuth refresh token",
    "Google OAuth 2.0 refresh token: 1//0 followed by 60 to 120 base64url characters.",
    ["1//0"], lambda r: "1//0" + token(r, BASE64URL, r.randrange(80, 100)),
    "GOOGLE_REFRESH_TOKEN", "refresh_token", "critical",
    ["https://developers.google.com/identity/protocols/oauth2#5.-refresh-the-access-token,-if-necessary."],
    ["gcp", "google", "oauth"], lambda r: "1//0" + token(r, BASE64URL, 20),
    regex=r"(?:^|[^A-Za-z0-9_/-])(1//0[A-Za-z0-9_-]{60,120})" + END64U, min_entropy=4.0)

add("azure-service-bus-key", "Azure Service Bus shared access key",
    "Azure Service Bus shared access key: 44 base64 characters with the +ASb identifiable signature.",
    ["+ASb"], lambda r: token(r, BASE64, 33) + "+ASb" + token(r, BASE64, 6) + "=",
    "SERVICEBUS_KEY", "servicebus_key", "high",
    ["https://learn.microsoft.com/en-us/azure/service-bus-messaging/service-bus-sas"],
    ["azure", "messaging"], lambda r: token(r, BASE64, 12) + "+ASb" + token(r, BASE64, 6) + "=",
    regex=r"(?:^|[^A-Za-z0-9+/])([A-Za-z0-9+/]{33}\+ASb[A-Za-z0-9+/]{6}=)")

add("azure-relay-key", "Azure Relay shared access key",
    "Azure Relay (hybrid connections) shared access key: 44 base64 characters with the +ARm identifiable signature.",
    ["+ARm"], lambda r: token(r, BASE64, 33) + "+ARm" + token(r, BASE64, 6) + "=",
    "RELAY_KEY", "relay_key", "high",
    ["https://learn.microsoft.com/en-us/azure/azure-relay/relay-authentication-and-authorization"],
    ["azure", "network"], lambda r: token(r, BASE64, 12) + "+ARm" + token(r, BASE64, 6) + "=",
    regex=r"(?:^|[^A-Za-z0-9+/])([A-Za-z0-9+/]{33}\+ARm[A-Za-z0-9+/]{6}=)")

add("hcp-client-secret", "HashiCorp Cloud Platform client secret",
    "HashiCorp Cloud Platform (HCP) service-principal client secret: 64 base64url characters near HCP_CLIENT_SECRET.",
    ["hcp_client_secret", "hcp-client-secret"], lambda r: token(r, BASE64URL, 64),
    "HCP_CLIENT_SECRET", "hcp_client_secret", "critical",
    ["https://developer.hashicorp.com/hcp/docs/hcp/iam/service-principal"], ["hashicorp", "cloud"],
    lambda r: token(r, BASE64URL, 30), context=ctx(r"[A-Za-z0-9_-]{64}"))

add("docker-swarm-join-token", "Docker Swarm join token",
    "Docker Swarm manager or worker join token: SWMTKN-1-, 50 base36 characters, a dash and 25 base36 characters.",
    ["SWMTKN-1-"], lambda r: "SWMTKN-1-" + token(r, ALNUM_LOWER, 50) + "-" + token(r, ALNUM_LOWER, 25),
    "SWARM_JOIN_TOKEN", "swarm_join_token", "critical",
    ["https://docs.docker.com/reference/cli/docker/swarm/join-token/"], ["containers", "docker"],
    lambda r: "SWMTKN-1-" + token(r, ALNUM_LOWER, 20),
    regex=r"\b(SWMTKN-1-[a-z0-9]{50}-[a-z0-9]{25})" + END62,
    extra_ex=["docker swarm join --token SWMTKN-1-" + token(rng("sw", 1), ALNUM_LOWER, 50) + "-" + token(rng("sw", 2), ALNUM_LOWER, 25) + " 10.0.0.2:2377"])

add("docker-swarm-unlock-key", "Docker Swarm unlock key",
    "Docker Swarm autolock unlock key: SWMKEY-1- followed by 43 base64 characters.",
    ["SWMKEY-1-"], lambda r: "SWMKEY-1-" + token(r, BASE64, 43),
    "SWARM_UNLOCK_KEY", "swarm_unlock_key", "high",
    ["https://docs.docker.com/engine/swarm/swarm_manager_locking/"], ["containers", "docker"],
    lambda r: "SWMKEY-1-" + token(r, BASE64, 20),
    regex=r"\b(SWMKEY-1-[A-Za-z0-9+/]{43})(?:[^A-Za-z0-9+/]|$)")

add("k3s-cluster-token", "K3s cluster join token",
    "K3s secure cluster token: K10, the 64-hex CA hash, ::server: or ::node: and the shared password.",
    ["::server:", "::node:"],
    lambda r: "K10" + token(r, HEX, 64) + "::" + r.choice(["server", "node"]) + ":" + token(r, HEX, 32),
    "K3S_TOKEN", "k3s_token", "critical",
    ["https://docs.k3s.io/cli/token"], ["kubernetes", "k3s"],
    lambda r: "K10" + token(r, HEX, 20) + "::server:" + token(r, HEX, 32),
    regex=r"\b(K10[a-f0-9]{64}::(?:server|node):[A-Za-z0-9]{16,64})" + END62)

HEADER = ("Infrastructure credentials: IaaS/PaaS hosting, edge and serverless, secrets managers, "
          "machine identity, containers and Kubernetes, VPN and zero-trust, and CI/CD services.")

if __name__ == "__main__":
    sys.stdout.write(rule_file(HEADER, RULES))
