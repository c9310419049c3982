// The Bjøntegaard delta metrics against published numbers (the JCT-VC reference spreadsheet's
// results for two HM curve pairs, JCTVC-E137, as carried by the bdcalculator package's tests) and
// against exact properties of the definition, plus the refusals when the metric is undefined.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "bench/bd_rate.h"

namespace renderer::bench {
namespace {

// Rates in kbit/s, PSNR-Y in dB: the JCT-VC spreadsheet gives -0.465 % for the first pair and
// -1.878 % for the second (the test curves need slightly less rate for the same PSNR).
const std::vector<RdPoint> kAnchor1 = {
    {108048.8736, 43.6471}, {61279.976, 40.3953}, {33905.6656, 37.247}, {18883.6928, 34.2911}};
const std::vector<RdPoint> kTest1 = {
    {108061.2784, 43.6768}, {61299.9936, 40.4232}, {33928.7472, 37.2761}, {18910.912, 34.3147}};
const std::vector<RdPoint> kAnchor2 = {
    {40433.8848, 37.5761}, {7622.7456, 35.3756}, {2394.488, 33.8977}, {1017.6184, 32.0603}};
const std::vector<RdPoint> kTest2 = {
    {40370.12, 37.5982}, {7587.0024, 35.4025}, {2390.0944, 33.9194}, {1017.0984, 32.0822}};

TEST(BdRate, MatchesTheJctvcSpreadsheet) {
    EXPECT_NEAR(bd_rate_percent(kAnchor1, kTest1), -0.465215420752807, 1e-6);
    EXPECT_NEAR(bd_rate_percent(kAnchor2, kTest2), -1.8779823450567612, 1e-6);
}

TEST(BdRate, IdenticalCurvesDifferByNothing) {
    EXPECT_NEAR(bd_rate_percent(kAnchor2, kAnchor2), 0.0, 1e-12);
    EXPECT_NEAR(bd_quality(kAnchor2, kAnchor2), 0.0, 1e-12);
}

// A curve that needs 20 % less rate at every point is -20 % whatever the interpolation, and one
// 0.75 dB better at every rate is +0.75 dB.
TEST(BdRate, UniformShiftsComeOutExactly) {
    std::vector<RdPoint> cheaper;
    std::vector<RdPoint> better;
    for (const auto& p : kAnchor2) {
        cheaper.push_back({.rate = p.rate * 0.8, .quality = p.quality});
        better.push_back({.rate = p.rate, .quality = p.quality + 0.75});
    }
    EXPECT_NEAR(bd_rate_percent(kAnchor2, cheaper), -20.0, 1e-9);
    EXPECT_NEAR(bd_rate_percent(cheaper, kAnchor2), 25.0, 1e-9);
    EXPECT_NEAR(bd_quality(kAnchor2, better), 0.75, 1e-9);
    EXPECT_NEAR(bd_quality(better, kAnchor2), -0.75, 1e-9);
}

// The order of the points does not matter, nor does the number of points once there are four.
TEST(BdRate, PointOrderAndCountAreFree) {
    const std::vector<RdPoint> reversed(kTest1.rbegin(), kTest1.rend());
    EXPECT_DOUBLE_EQ(bd_rate_percent(kAnchor1, reversed), bd_rate_percent(kAnchor1, kTest1));
    // Two curves of five points each, one a 10 % cheaper copy of the other.
    const std::vector<RdPoint> five = {
        {500, 30.0}, {900, 33.1}, {1600, 35.7}, {3000, 38.2}, {6000, 40.0}};
    std::vector<RdPoint> five_cheaper;
    for (const auto& p : five) five_cheaper.push_back({.rate = p.rate * 0.9, .quality = p.quality});
    EXPECT_NEAR(bd_rate_percent(five, five_cheaper), -10.0, 1e-9);
}

// The BD-PSNR of the first JCT-VC pair: the test curve's PSNR is 0.021 to 0.030 dB above the
// anchor's at each point, at almost the same rates, so its average gain lies in that band and
// turns sign when the curves swap roles.
TEST(BdRate, QualityDifferenceOfTheJctvcPair) {
    const double gain = bd_quality(kAnchor1, kTest1);
    EXPECT_GT(gain, 0.015);
    EXPECT_LT(gain, 0.035);
    EXPECT_NEAR(bd_quality(kTest1, kAnchor1), -gain, 1e-12);
}

TEST(BdRate, UndefinedCasesSayWhy) {
    const std::vector<RdPoint> three(kAnchor1.begin(), kAnchor1.begin() + 3);
    try {
        bd_rate_percent(kAnchor1, three);
        FAIL() << "three points accepted";
    } catch (const BdUndefined& e) {
        EXPECT_NE(std::string(e.what()).find("at least 4"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("has 3"), std::string::npos) << e.what();
    }
    std::vector<RdPoint> falling = kAnchor1;
    falling[1].quality = 44.0;  // more rate, less quality
    EXPECT_THROW(bd_rate_percent(falling, kTest1), BdUndefined);
    std::vector<RdPoint> zero_rate = kAnchor1;
    zero_rate[3].rate = 0;
    EXPECT_THROW(bd_quality(zero_rate, kTest1), BdUndefined);
    std::vector<RdPoint> far_better;
    for (const auto& p : kAnchor1)
        far_better.push_back({.rate = p.rate, .quality = p.quality + 20});
    try {
        bd_rate_percent(kAnchor1, far_better);
        FAIL() << "disjoint quality ranges accepted";
    } catch (const BdUndefined& e) {
        EXPECT_NE(std::string(e.what()).find("do not overlap"), std::string::npos) << e.what();
    }
}

// Two rates that differ (1e6 and the next double above it) but whose log10 is the same double:
// the knots' spacing is zero, the interpolation divides by it (an infinite secant: a vertical
// step) and still gives a number. The metric must refuse the curve, not report that number.
TEST(BdRate, RatesTooCloseToTellApartAreRefused) {
    const double r = 1e6;
    const std::vector<RdPoint> close = {
        {r, 30.0}, {std::nextafter(r, 2 * r), 31.0}, {2 * r, 33.0}, {4 * r, 36.0}};
    const std::vector<RdPoint> other = {{r, 30.5}, {1.5 * r, 32.0}, {2.5 * r, 34.0}, {4 * r, 37.0}};
    try {
        const double q = bd_quality(close, other);
        FAIL() << "returned " << q;
    } catch (const BdUndefined& e) {
        EXPECT_NE(std::string(e.what()).find("too close"), std::string::npos) << e.what();
    }
}

// Finite, positive rates whose ratio is beyond a double (1e-300 against 1e+300 at the same
// qualities): 10^600 overflows, and the metric must say so rather than report "inf %".
TEST(BdRate, ARateRatioBeyondADoubleIsRefusedNotInfinite) {
    std::vector<RdPoint> tiny;
    std::vector<RdPoint> huge;
    for (int i = 0; i < 4; ++i) {
        tiny.push_back({.rate = 1e-300 * (i + 1), .quality = 30.0 + i});
        huge.push_back({.rate = 1e300 * (i + 1), .quality = 30.0 + i});
    }
    EXPECT_THROW(bd_rate_percent(tiny, huge), BdUndefined);
    // The other way round is -100 % to the last digit (finite), which stays an answer.
    EXPECT_TRUE(std::isfinite(bd_rate_percent(huge, tiny)));
}

}  // namespace
}  // namespace renderer::bench
