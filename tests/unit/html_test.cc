// core/html: the one HTML/XML escaper.

#include "core/html.h"

#include <gtest/gtest.h>

#include <string>

namespace dbcanary {
namespace {

TEST(HtmlTest, EscapesTheFiveCharacters) {
  EXPECT_EQ(EscapeHtml("<a href=\"x\" title='y'>&amp;</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
  EXPECT_EQ(EscapeHtml("'"), "&#39;");
  EXPECT_EQ(EscapeHtml(""), "");
}

TEST(HtmlTest, CopiesEverythingElse) {
  EXPECT_EQ(EscapeHtml("plain text 123 / ; = |"), "plain text 123 / ; = |");
  EXPECT_EQ(EscapeHtml("gr\xC3\xBC\xC3\x9F"), "gr\xC3\xBC\xC3\x9F");  // UTF-8 intact
  EXPECT_EQ(EscapeHtml(std::string("a\0b\x01\n", 5)), std::string("a\0b\x01\n", 5));
}

TEST(HtmlTest, XmlAlsoDropsForbiddenControlCharacters) {
  EXPECT_EQ(EscapeXml("pooler <gitlab> & \"admin\" 'x'"),
            "pooler &lt;gitlab&gt; &amp; &quot;admin&quot; &#39;x&#39;");
  EXPECT_EQ(EscapeXml(std::string("a\0b\x01\x1f"
                                  "c\td\ne\rf\x7f",
                                  13)),
            "abc\td\ne\rf\x7f");
}

}  // namespace
}  // namespace dbcanary
