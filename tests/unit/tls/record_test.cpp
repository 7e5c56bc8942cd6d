#include "mws/tls/record.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <tuple>
#include <vector>

namespace mws::tls {
namespace {

// Two ends of one connection: the server's keys and the client's (read and write swapped).
struct Peers {
  RecordKeys server{};
  RecordKeys client{};
};

Peers makePeers(bool tls13, Aead aead) {
  Peers p;
  if (tls13) {
    const size_t len = aead == Aead::kAes256Gcm ? 48 : 32;
    std::vector<uint8_t> c(len, 0x11), s(len, 0x22);
    EXPECT_TRUE(deriveTls13(p.server, aead, c, s));
    EXPECT_TRUE(deriveTls13(p.client, aead, s, c));
  } else {
    std::vector<uint8_t> master(48, 0x33), cr(32, 0x44), sr(32, 0x55);
    EXPECT_TRUE(deriveTls12(p.server, aead, aead == Aead::kAes256Gcm, master, cr, sr));
    p.client = p.server;
    std::swap(p.client.read, p.client.write);
  }
  return p;
}

std::vector<uint8_t> sealOf(RecordKeys& keys, ContentType type, const std::string& text) {
  std::vector<uint8_t> out(text.size() + sealOverhead(keys));
  const size_t n =
      seal(keys, type, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
           out.data());
  EXPECT_EQ(n, out.size());
  return out;
}

using Param = std::tuple<bool, Aead>;
class RecordTest : public ::testing::TestWithParam<Param> {};

TEST_P(RecordTest, SealsAndOpensInOrderAcrossAKeyUpdate) {
  const auto [tls13, aead] = GetParam();
  Peers p = makePeers(tls13, aead);
  for (int i = 0; i < 5; ++i) {
    const std::string text = i == 2 ? "" : std::string(static_cast<size_t>(i) * 4000, 'a' + i);
    std::vector<uint8_t> wire = sealOf(p.server, ContentType::kApplicationData, text);
    EXPECT_EQ(recordSize(wire), wire.size());
    const Opened o = open(p.client, wire);
    ASSERT_TRUE(o.ok) << i;
    EXPECT_EQ(o.type, ContentType::kApplicationData);
    EXPECT_EQ(std::string(o.plain.begin(), o.plain.end()), text);
    if (tls13 && i == 3) {
      ASSERT_TRUE(updateTls13(p.server.write, aead));
      ASSERT_TRUE(updateTls13(p.client.read, aead));
    }
  }
  EXPECT_EQ(p.server.write.seq, tls13 ? 1u : 5u);  // reset by the update at record 3
}

TEST_P(RecordTest, InterleavedConnectionsKeepTheirOwnKeys) {
  // The thread's cipher contexts keep the last key they were given: records of two
  // connections in turn must each use their own.
  const auto [tls13, aead] = GetParam();
  Peers a = makePeers(tls13, aead);
  Peers b = makePeers(tls13, aead);
  if (tls13) {
    ASSERT_TRUE(updateTls13(b.server.write, aead));  // b: another key than a's
    ASSERT_TRUE(updateTls13(b.client.read, aead));
  } else {
    b.server.write.key[0] ^= 1;
    b.client.read.key[0] ^= 1;
  }
  for (int i = 0; i < 6; ++i) {
    Peers& p = (i % 3 == 0) ? b : a;
    std::vector<uint8_t> wire = sealOf(p.server, ContentType::kApplicationData, "turn");
    const Opened o = open(p.client, wire);
    ASSERT_TRUE(o.ok) << i;
    // And the other connection's keys refuse it.
    Peers& other = (&p == &a) ? b : a;
    RecordKeys copy = other.client;
    copy.read.seq = p.client.read.seq - 1;
    std::vector<uint8_t> again = sealOf(p.server, ContentType::kApplicationData, "x");
    std::vector<uint8_t> scratch = again;  // opening decrypts in place, even when it fails
    EXPECT_FALSE(open(copy, scratch).ok) << i;
    ASSERT_TRUE(open(p.client, again).ok) << i;
  }
}

TEST_P(RecordTest, EveryFlippedBitIsRefused) {
  const auto [tls13, aead] = GetParam();
  Peers p = makePeers(tls13, aead);
  const std::vector<uint8_t> wire = sealOf(p.server, ContentType::kApplicationData, "integrity");
  // Length bytes change the framing (another test); every other byte must be refused: by
  // authentication, or (TLS 1.2's unauthenticated header version) by its check.
  for (size_t i = 0; i < wire.size(); ++i) {
    if (i == 3 || i == 4) continue;
    RecordKeys client = p.client;
    std::vector<uint8_t> bad = wire;
    bad[i] ^= 0x01;
    const Opened o = open(client, bad);
    EXPECT_FALSE(o.ok) << "byte " << i;
    const Alert expected = i == 0              ? Alert::kUnexpectedMessage
                           : (i < 3 && !tls13) ? Alert::kProtocolVersion
                                               : Alert::kBadRecordMac;
    EXPECT_EQ(o.error, expected) << "byte " << i;
    EXPECT_EQ(client.read.seq, p.client.read.seq);  // a refused record does not count
  }
}

TEST_P(RecordTest, AReplayedOrReorderedRecordIsRefused) {
  const auto [tls13, aead] = GetParam();
  Peers p = makePeers(tls13, aead);
  const std::vector<uint8_t> first = sealOf(p.server, ContentType::kApplicationData, "one");
  const std::vector<uint8_t> second = sealOf(p.server, ContentType::kApplicationData, "two");
  std::vector<uint8_t> copy = second;
  EXPECT_FALSE(open(p.client, copy).ok);  // out of order
  copy = first;
  EXPECT_TRUE(open(p.client, copy).ok);
  copy = first;
  EXPECT_FALSE(open(p.client, copy).ok);  // replayed
}

TEST_P(RecordTest, AlertsKeepTheirType) {
  const auto [tls13, aead] = GetParam();
  Peers p = makePeers(tls13, aead);
  std::vector<uint8_t> wire = sealOf(p.server, ContentType::kAlert, std::string("\x01\x00", 2));
  EXPECT_EQ(wire[0], tls13 ? 23 : 21);  // TLS 1.3 hides the type inside
  const Opened o = open(p.client, wire);
  ASSERT_TRUE(o.ok);
  EXPECT_EQ(o.type, ContentType::kAlert);
  EXPECT_EQ(o.plain.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(All, RecordTest,
                         ::testing::Combine(::testing::Bool(),
                                            ::testing::Values(Aead::kAes128Gcm, Aead::kAes256Gcm,
                                                              Aead::kChaCha20Poly1305)));

TEST(RecordFramingTest, WrongOuterTypesAndShortRecordsAreRefused) {
  Peers p = makePeers(true, Aead::kAes128Gcm);
  std::vector<uint8_t> wire = sealOf(p.server, ContentType::kApplicationData, "x");
  wire[0] = 22;  // TLS 1.3 sends nothing but application_data after the handshake
  Opened o = open(p.client, wire);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.error, Alert::kUnexpectedMessage);
  std::vector<uint8_t> tiny = {23, 3, 3, 0, 4, 1, 2, 3, 4};  // shorter than a tag
  o = open(p.client, tiny);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.error, Alert::kDecodeError);
  EXPECT_EQ(recordSize(std::span(tiny).first(4)), 0u);  // header incomplete
}

TEST(RecordFramingTest, AnAllPaddingRecordIsUnexpected) {
  // TLSInnerPlaintext with no content type byte: zeros only (rfc8446#section-5.4).
  Peers p = makePeers(true, Aead::kAes128Gcm);
  std::vector<uint8_t> wire(5 + 4 + kTagBytes);
  // Seal 3 zero bytes as "application data" and the type byte 0 makes 4 zeros inside.
  const uint8_t zeros[3] = {};
  ASSERT_EQ(seal(p.server, static_cast<ContentType>(0), zeros, wire.data()), wire.size());
  const Opened o = open(p.client, wire);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.error, Alert::kUnexpectedMessage);
}

}  // namespace
}  // namespace mws::tls
