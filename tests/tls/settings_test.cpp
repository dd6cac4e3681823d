// tls::parse_settings and the domain choice, on the examples of OpenSIPS 3.x tls_mgm's documentation,
// tls_mgm 2.x's "name=ip:port" domains, OpenSIPS 1.x's globals, and values that must be refused.
#include "control/tls/tls_settings.h"

#include <gtest/gtest.h>

namespace sipd::tls {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

Endpoint ep(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint16_t port) {
  return {a << 24 | b << 16 | c << 8 | d, port};
}

const DomainSettings* find(const std::vector<DomainSettings>& list, const std::string& name) {
  for (const DomainSettings& d : list)
    if (d.name == name) return &d;
  return nullptr;
}

std::string picked(const std::vector<DomainSettings>& list, Endpoint e, std::string_view name) {
  const int i = pick_domain(list, e, name);
  return i < 0 ? "(none)" : list[size_t(i)].name;
}

// tls_mgm 3.x, "server_domain, client_domain": atlanta, biloxi and a no-SNI domain on one socket; two
// client domains by SIP domain and one by the gateway's address.
Params documented_example() {
  Params p;
  auto domain = [&](const char* kind, const char* name, const char* ip, const char* sip, const char* dir,
                    const char* verify, const char* require) {
    const std::string d = std::string("[") + name + "]";
    p.push_back({kind, name});
    p.push_back({"match_ip_address", d + ip});
    p.push_back({"match_sip_domain", d + sip});
    p.push_back({"certificate", d + "/certs/" + dir + "/cert.pem"});
    p.push_back({"private_key", d + "/certs/" + dir + "/privkey.pem"});
    p.push_back({"ca_list", d + "/certs/wellknownCAs"});
    p.push_back({"tls_method", d + "tlsv1"});
    p.push_back({"verify_cert", d + verify});
    if (require) p.push_back({"require_cert", d + require});
  };
  domain("server_domain", "dom1", "10.0.0.10:5061", "atlanta.com", "atlanta.com", "1", "1");
  domain("server_domain", "dom2", "10.0.0.10:5061", "biloxi.com", "biloxi.com", "1", "1");
  domain("server_domain", "dom3", "10.0.0.10:5061", "none", "generic", "1", "1");
  domain("client_domain", "dom4", "*", "atlanta.com", "atlanta.com", "1", "1");
  domain("client_domain", "dom5", "*", "biloxi.com", "biloxi.com", "1", "1");
  domain("client_domain", "dom6", "1.2.3.4:6677", "*", "gw", "0", nullptr);
  return p;
}

TEST(TlsSettings, DocumentedDomainsParse) {
  const SettingsResult r = parse_settings(documented_example());
  ASSERT_TRUE(r.ok()) << r.error;
  const TlsSettings& s = r.settings;
  ASSERT_EQ(s.servers.size(), 3u);  // no default domain: the script defines its own and sets no default
  ASSERT_EQ(s.clients.size(), 3u);
  const DomainSettings& dom1 = *find(s.servers, "dom1");
  EXPECT_TRUE(dom1.server);
  EXPECT_EQ(dom1.certificate, "/certs/atlanta.com/cert.pem");
  EXPECT_EQ(dom1.private_key, "/certs/atlanta.com/privkey.pem");
  EXPECT_EQ(dom1.ca_list, "/certs/wellknownCAs");
  EXPECT_EQ(dom1.min_version, kTls10);  // "tlsv1": TLS 1.0 as the minimum
  EXPECT_EQ(dom1.max_version, 0);
  EXPECT_TRUE(dom1.verify_cert);
  EXPECT_TRUE(dom1.require_cert);
  ASSERT_EQ(dom1.addresses.size(), 1u);
  EXPECT_EQ(dom1.addresses[0], ep(10, 0, 0, 10, 5061));
  EXPECT_EQ(dom1.sip_domains, std::vector<std::string>{"atlanta.com"});
  EXPECT_TRUE(find(s.servers, "dom3")->match_no_name);
  EXPECT_TRUE(find(s.servers, "dom3")->sip_domains.empty());
  const DomainSettings& dom4 = *find(s.clients, "dom4");
  EXPECT_FALSE(dom4.server);
  EXPECT_TRUE(dom4.addresses.empty());  // "*"
  const DomainSettings& dom6 = *find(s.clients, "dom6");
  EXPECT_FALSE(dom6.verify_cert);
  EXPECT_TRUE(dom6.any_name());
}

TEST(TlsSettings, DocumentedDomainsAreChosenAsDocumented) {
  const TlsSettings s = parse_settings(documented_example()).settings;
  const Endpoint sock = ep(10, 0, 0, 10, 5061);
  EXPECT_EQ(picked(s.servers, sock, "atlanta.com"), "dom1");
  EXPECT_EQ(picked(s.servers, sock, "biloxi.com"), "dom2");
  EXPECT_EQ(picked(s.servers, sock, ""), "dom3");  // no SNI: the "none" domain
  // "if a SNI is provided, but does not match any other SIP domain filter, the connection will be rejected"
  EXPECT_EQ(picked(s.servers, sock, "chicago.com"), "(none)");
  EXPECT_EQ(picked(s.servers, ep(10, 0, 0, 11, 5061), "atlanta.com"), "(none)");  // another socket
  // Clients: the gateway by address, the others by the SIP domain the script set ($avp(tls_sip_dom)).
  EXPECT_EQ(picked(s.clients, ep(1, 2, 3, 4, 6677), ""), "dom6");
  EXPECT_EQ(picked(s.clients, ep(1, 2, 3, 4, 6677), "atlanta.com"), "dom6");  // the address outranks
  EXPECT_EQ(picked(s.clients, ep(5, 6, 7, 8, 5061), "atlanta.com"), "dom4");
  EXPECT_EQ(picked(s.clients, ep(5, 6, 7, 8, 5061), "Biloxi.COM"), "dom5");  // names ignore case
  EXPECT_EQ(picked(s.clients, ep(5, 6, 7, 8, 5061), "biloxi.com"), "dom5");
  EXPECT_EQ(picked(s.clients, ep(5, 6, 7, 8, 5061), ""), "(none)");
}

TEST(TlsSettings, MatchIpAddressList) {
  const Params p = {{"server_domain", "dom1"}, {"match_ip_address", "[dom1]10.0.0.10:5061, 10.0.0.11:5061"}};
  const SettingsResult r = parse_settings(p);
  ASSERT_TRUE(r.ok()) << r.error;
  const DomainSettings& d = *find(r.settings.servers, "dom1");
  ASSERT_EQ(d.addresses.size(), 2u);
  EXPECT_EQ(d.addresses[1], ep(10, 0, 0, 11, 5061));
  EXPECT_EQ(picked(r.settings.servers, ep(10, 0, 0, 11, 5061), ""), "dom1");
  EXPECT_EQ(picked(r.settings.servers, ep(10, 0, 0, 12, 5061), ""), "(none)");
}

TEST(TlsSettings, MatchSipDomainWildcardsMostSpecificWins) {
  const Params p = {
      {"server_domain", "dom1"},        {"match_sip_domain", "[dom1]foo.com, bar.com, *.baz.com"},
      {"server_domain", "default_dom"}, {"match_sip_domain", "[default_dom]*"},
      {"server_domain", "wild"},        {"match_sip_domain", "[wild]*.bar.com"},
      {"server_domain", "exact"},       {"match_sip_domain", "[exact]foo.bar.com"}};
  const SettingsResult r = parse_settings(p);
  ASSERT_TRUE(r.ok()) << r.error;
  const auto& servers = r.settings.servers;
  EXPECT_EQ(find(servers, "dom1")->sip_domains,
            (std::vector<std::string>{"foo.com", "bar.com", "*.baz.com"}));
  EXPECT_TRUE(find(servers, "default_dom")->any_name());
  const Endpoint any = ep(192, 0, 2, 1, 5061);
  EXPECT_EQ(picked(servers, any, "foo.com"), "dom1");
  EXPECT_EQ(picked(servers, any, "x.baz.com"), "dom1");
  EXPECT_EQ(picked(servers, any, "foo.bar.com"), "exact");  // not "*.bar.com"
  EXPECT_EQ(picked(servers, any, "other.bar.com"), "wild");
  EXPECT_EQ(picked(servers, any, "elsewhere.org"), "default_dom");
  EXPECT_EQ(picked(servers, any, ""), "default_dom");  // "*" takes clients without SNI too
}

TEST(TlsSettings, MethodRanges) {
  const Params p = {{"server_domain", "a"}, {"tls_method", "[a]TLSv1-TLSv1_3"},
                    {"server_domain", "b"}, {"tls_method", "[b]TLSv1-"},
                    {"server_domain", "c"}, {"tls_method", "[c]-TLSv1_2"},
                    {"server_domain", "d"}, {"tls_method", "[d]-"},
                    {"server_domain", "e"}, {"tls_method", "[e]TLSv1_3"},
                    {"server_domain", "f"}, {"tls_method", "[f]SSLv23"}};
  const SettingsResult r = parse_settings(p);
  ASSERT_TRUE(r.ok()) << r.error;
  auto range = [&](const char* n) {
    const DomainSettings& d = *find(r.settings.servers, n);
    return std::make_pair(d.min_version, d.max_version);
  };
  EXPECT_EQ(range("a"), std::make_pair(kTls10, kTls13));
  EXPECT_EQ(range("b"), std::make_pair(kTls10, uint16_t(0)));
  EXPECT_EQ(range("c"), std::make_pair(kTls12, kTls12));  // an empty low bound is TLS 1.2 here
  EXPECT_EQ(range("d"), std::make_pair(kTls12, uint16_t(0)));
  EXPECT_EQ(range("e"), std::make_pair(kTls13, uint16_t(0)));  // a single method is the minimum
  EXPECT_EQ(range("f"), std::make_pair(kTls12, uint16_t(0)));  // SSLv23: any TLS 1.2+
}

TEST(TlsSettings, TwoXStyleDomainWithAddress) {
  const Params p = {{"server_domain", "dom1=10.0.0.2:5061"},
                    {"client_domain", "dom6=1.2.3.4:6677"},
                    {"verify_cert", "[dom6]0"}};
  const SettingsResult r = parse_settings(p);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(find(r.settings.servers, "dom1")->addresses, std::vector<Endpoint>{ep(10, 0, 0, 2, 5061)});
  EXPECT_EQ(find(r.settings.clients, "dom6")->addresses, std::vector<Endpoint>{ep(1, 2, 3, 4, 6677)});
  EXPECT_FALSE(find(r.settings.clients, "dom6")->verify_cert);
  // Client domains are defined and no default value is set: as in tls_mgm 3.x, no default client domain.
  EXPECT_EQ(r.settings.clients.size(), 1u);
}

TEST(TlsSettings, OneXGlobalsConfigureTheDefaultDomains) {
  const Params p = {{"tls_certificate", "/etc/sipd/cert.pem"},
                    {"tls_private_key", "/etc/sipd/key.pem"},
                    {"tls_ca_list", "/etc/sipd/ca.pem"},
                    {"tls_ciphers_list", "HIGH:!aNULL"},
                    {"tls_method", "TLSv1_2"},
                    {"tls_verify_server", "yes"},
                    {"tls_verify_client", "1"},
                    {"tls_require_client_certificate", "on"},
                    {"tls_handshake_timeout", "2500"}};
  const SettingsResult r = parse_settings(p);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.settings.servers.size(), 1u);
  ASSERT_EQ(r.settings.clients.size(), 1u);
  const DomainSettings& server = r.settings.servers[0];
  const DomainSettings& client = r.settings.clients[0];
  EXPECT_EQ(server.name, "default");
  EXPECT_TRUE(server.server);
  EXPECT_FALSE(client.server);
  for (const DomainSettings* d : {&server, &client}) {
    EXPECT_EQ(d->certificate, "/etc/sipd/cert.pem");
    EXPECT_EQ(d->private_key, "/etc/sipd/key.pem");
    EXPECT_EQ(d->ca_list, "/etc/sipd/ca.pem");
    EXPECT_EQ(d->ciphers_list, "HIGH:!aNULL");
    EXPECT_EQ(d->min_version, kTls12);
    EXPECT_TRUE(d->addresses.empty());
    EXPECT_TRUE(d->any_name());
  }
  EXPECT_TRUE(server.verify_cert);
  EXPECT_TRUE(server.require_cert);
  EXPECT_TRUE(client.verify_cert);
  EXPECT_EQ(r.settings.handshake_timeout_ms, 2500u);

  const SettingsResult off = parse_settings(Params{{"tls_verify_server", "no"}, {"tls_verify_client", "0"}});
  ASSERT_TRUE(off.ok()) << off.error;
  EXPECT_FALSE(off.settings.clients[0].verify_cert);
  EXPECT_FALSE(off.settings.servers[0].verify_cert);
  EXPECT_FALSE(off.settings.servers[0].require_cert);  // 1.x: asked for, not required, unless told
}

TEST(TlsSettings, UnprefixedModparamsSetTheDefaultsBesideNamedDomains) {
  const Params p = {{"server_domain", "dom1"},
                    {"match_sip_domain", "[dom1]atlanta.com"},
                    {"certificate", "/default/cert.pem"},
                    {"certificate", "[dom1]/dom1/cert.pem"}};
  const SettingsResult r = parse_settings(p);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.settings.servers.size(), 2u);
  EXPECT_EQ(r.settings.servers[0].certificate, "/dom1/cert.pem");
  EXPECT_EQ(r.settings.servers[1].name, "default");
  EXPECT_EQ(r.settings.servers[1].certificate, "/default/cert.pem");
  EXPECT_EQ(picked(r.settings.servers, ep(192, 0, 2, 1, 5061), "atlanta.com"), "dom1");
  EXPECT_EQ(picked(r.settings.servers, ep(192, 0, 2, 1, 5061), "biloxi.com"), "default");
}

struct Refused {
  Params params;
  const char* names;  // the parameter the message must name
  const char* says;   // and part of its reason
};

TEST(TlsSettings, BadValuesAreRefusedWithTheParameterAndWhy) {
  const Refused cases[] = {
      {{{"tls_method", "SSLv3"}}, "tls_method", "SSLv3 are broken and refused"},
      {{{"tls_method", "SSLv2"}}, "tls_method", "refused"},
      {{{"server_domain", "d"}, {"tls_method", "[d]TLSv9"}}, "tls_method", "is not a TLS method"},
      {{{"server_domain", "d"}, {"tls_method", "[d]TLSv1_3-TLSv1"}}, "tls_method", "upper bound is below"},
      {{{"tls_verify_client", "maybe"}}, "tls_verify_client", "not a boolean"},
      {{{"server_domain", "d"}, {"verify_cert", "[d]2"}}, "verify_cert", "not a boolean"},
      {{{"certificate", "[nodom]/x.pem"}}, "certificate", "[nodom]: no server_domain or client_domain"},
      {{{"server_domain", "d"}, {"certificate", "[d/x.pem"}}, "certificate", "not closed"},
      {{{"server_domain", "d"}, {"match_ip_address", "[d]10.0.0.1"}},
       "match_ip_address",
       "not an IPv4 ip:port"},
      {{{"server_domain", "d"}, {"match_ip_address", "[d]10.0.0.1:99999"}},
       "match_ip_address",
       "10.0.0.1:99999"},
      {{{"client_domain", "c"}, {"match_sip_domain", "[c]none"}}, "match_sip_domain", "only makes sense"},
      {{{"server_domain", "d"}, {"server_domain", "d"}}, "server_domain", "defined twice"},
      {{{"server_domain", "d=nowhere"}}, "server_domain", "not an IPv4 ip:port"},
      {{{"server_domain", ""}}, "server_domain", "not a domain name"},
      {{{"tls_handshake_timeout", "soon"}}, "tls_handshake_timeout", "milliseconds"},
      {{{"tls_handshake_timeout", "0"}}, "tls_handshake_timeout", "positive"},
      {{{"dh_params", "/etc/dh.pem"}}, "dh_params", "not supported"},
      {{{"tls_bogus", "1"}}, "tls_bogus", "not a TLS parameter"},
  };
  for (const Refused& c : cases) {
    const SettingsResult r = parse_settings(c.params);
    EXPECT_FALSE(r.ok()) << c.names;
    EXPECT_EQ(r.error.rfind(std::string(c.names) + ": ", 0), 0u) << r.error;
    EXPECT_NE(r.error.find(c.says), std::string::npos) << r.error;
  }
}

TEST(TlsSettings, NameMatchingIsShellStyleAndCaseInsensitive) {
  EXPECT_TRUE(name_matches("*.example.com", "sip.example.com"));
  EXPECT_TRUE(name_matches("*.example.com", "SIP.Example.COM"));
  EXPECT_FALSE(name_matches("*.example.com", "example.com"));
  EXPECT_TRUE(name_matches("sip?.example.com", "sip1.example.com"));
  EXPECT_FALSE(name_matches("atlanta.com", "biloxi.com"));
}

}  // namespace
}  // namespace sipd::tls
