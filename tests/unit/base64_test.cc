// core/base64: the one base64 decoder (strict about structure; padding and whitespace per
// caller) and its encoder.

#include "core/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace dbcanary {
namespace {

const Base64Options kLenient{Base64Padding::kOptional, /*ignore_whitespace=*/true};

TEST(Base64Test, DecodesPaddedText) {
  EXPECT_EQ(DecodeBase64("aGVsbG8gd29ybGQ="), "hello world");
  EXPECT_EQ(DecodeBase64("YWxpY2U6b3BlbiBzZXNhbWU="), "alice:open sesame");
  EXPECT_EQ(DecodeBase64("Ym9iOmE6Yg=="), "bob:a:b");
  EXPECT_EQ(DecodeBase64("YWJj"), "abc");
  EXPECT_EQ(DecodeBase64(""), "");
  EXPECT_EQ(DecodeBase64("+/8="), std::string("\xfb\xff"));
  EXPECT_EQ(DecodeBase64("AA=="), std::string(1, '\0'));
}

TEST(Base64Test, RefusesMalformedText) {
  EXPECT_FALSE(DecodeBase64("YW*pY2U6eA=="));  // not in the alphabet
  EXPECT_FALSE(DecodeBase64("YWJj-_=="));      // base64url is not accepted
  EXPECT_FALSE(DecodeBase64("YQ==YWFh"));      // data after padding
  EXPECT_FALSE(DecodeBase64("YQ=a"));          // data after padding, inside a group
  EXPECT_FALSE(DecodeBase64("Y==="));          // '=' for the second character
  EXPECT_FALSE(DecodeBase64("===="));
  EXPECT_FALSE(DecodeBase64("YWJj="));  // '=' after a full group
  EXPECT_FALSE(DecodeBase64("YWI=="));  // one '=' too many
  EXPECT_FALSE(DecodeBase64("YQ="));    // padded group of three
  EXPECT_FALSE(DecodeBase64("YWJjZ"));  // a lone final character is never valid
  EXPECT_FALSE(DecodeBase64("YWJjZ", kLenient));
}

TEST(Base64Test, PaddingIsRequiredUnlessOptional) {
  EXPECT_FALSE(DecodeBase64("YWxpY2U6eA"));
  EXPECT_FALSE(DecodeBase64("YQ"));
  const Base64Options optional{Base64Padding::kOptional, false};
  EXPECT_EQ(DecodeBase64("YWxpY2U6eA", optional), "alice:x");
  EXPECT_EQ(DecodeBase64("YQ", optional), "a");
  EXPECT_EQ(DecodeBase64("YWI", optional), "ab");
  EXPECT_EQ(DecodeBase64("YWI=", optional), "ab");  // padding still allowed
  EXPECT_FALSE(DecodeBase64("YWI==", optional));
}

TEST(Base64Test, WhitespaceOnlyWhereAllowed) {
  EXPECT_FALSE(DecodeBase64("YWJj\nZGVm"));
  EXPECT_FALSE(DecodeBase64(" YWJj"));
  EXPECT_EQ(DecodeBase64("aGVsbG8\ngd29ybGQ", kLenient), "hello world");
  EXPECT_EQ(DecodeBase64(" YW Jj\r\n\tZGVm \n", kLenient), "abcdef");
  EXPECT_EQ(DecodeBase64("YQ=\n=", kLenient), "a");
  EXPECT_FALSE(DecodeBase64("a*b", kLenient));
}

TEST(Base64Test, EncodesWithPaddingAndRoundTrips) {
  EXPECT_EQ(EncodeBase64(""), "");
  EXPECT_EQ(EncodeBase64("a"), "YQ==");
  EXPECT_EQ(EncodeBase64("ab"), "YWI=");
  EXPECT_EQ(EncodeBase64("abc"), "YWJj");
  EXPECT_EQ(EncodeBase64("alice:open sesame"), "YWxpY2U6b3BlbiBzZXNhbWU=");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t size = 0; size <= all.size(); size += 37) {
    const std::string data = all.substr(0, size);
    EXPECT_EQ(DecodeBase64(EncodeBase64(data)), data) << size;
  }
}

}  // namespace
}  // namespace dbcanary
