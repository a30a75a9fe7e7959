package org.milab.prompts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Every expected value here was printed by CPython 3.11.7's {@code random} module (the real one, not a
 * re-implementation) and pasted as a literal; the check vectors of the protocol's section 3 are also
 * the first eight heads of the two shuffles.
 */
class PyRandomTest {

    private static List<String> sortedHeads() {
        List<String> heads = new ArrayList<>();
        for (int layer : new int[] {0, 2, 4, 7, 9, 11}) {
            for (int head = 0; head < 12; head++) {
                heads.add("L" + layer + "H" + head);
            }
        }
        return heads;
    }

    @Test
    void shufflesTheSeventyTwoHeadsLikeCpython() {
        // reference-protocol.md section 3 [verified]: Random(0) starts L11H0 L4H0 L11H9 L11H11 L9H6 L7H7 L11H7 L4H2,
        // Random(1) starts L11H7 L4H11 L9H3 L4H1 L0H4 L2H4 L0H2 L11H8; full orders from python3.
        List<String> heads0 = sortedHeads();
        new PyRandom(0).shuffle(heads0);
        assertThat(String.join(" ", heads0)).isEqualTo(
                "L11H0 L4H0 L11H9 L11H11 L9H6 L7H7 L11H7 L4H2 L9H7 L2H2 L7H10 L4H7 L0H1 L7H4 L0H11 L11H8 L0H7 L0H10 "
                + "L2H3 L11H10 L11H3 L7H0 L7H6 L7H11 L2H0 L2H11 L0H2 L0H0 L2H5 L4H5 L4H1 L0H3 L9H2 L4H4 L7H5 L9H11 "
                + "L2H8 L4H3 L11H6 L7H8 L4H11 L4H6 L2H9 L0H4 L9H4 L2H7 L0H9 L11H4 L7H9 L4H10 L2H4 L7H3 L0H6 L9H0 "
                + "L9H8 L2H6 L0H8 L4H8 L2H1 L9H10 L9H9 L7H1 L2H10 L11H1 L7H2 L9H3 L11H2 L11H5 L4H9 L0H5 L9H5 L9H1");
        List<String> heads1 = sortedHeads();
        new PyRandom(1).shuffle(heads1);
        assertThat(String.join(" ", heads1)).isEqualTo(
                "L11H7 L4H11 L9H3 L4H1 L0H4 L2H4 L0H2 L11H8 L0H10 L7H9 L11H10 L2H0 L2H11 L2H7 L11H9 L2H6 L2H10 L0H5 "
                + "L0H3 L4H6 L9H6 L7H3 L0H9 L7H4 L9H7 L7H0 L2H9 L4H5 L0H11 L0H7 L9H10 L11H1 L9H2 L7H11 L4H9 L7H5 "
                + "L9H8 L2H1 L9H11 L9H4 L4H10 L7H6 L7H7 L11H5 L2H8 L11H2 L7H1 L2H2 L7H10 L11H11 L4H4 L7H8 L0H0 "
                + "L9H1 L11H4 L7H2 L4H3 L4H0 L9H5 L11H6 L0H1 L4H7 L0H6 L4H2 L9H0 L11H0 L9H9 L11H3 L2H3 L4H8 L0H8 L2H5");
    }

    /** Seeds state words getstate()[1][0], [1], [623], index [624], then three getrandbits(32). */
    private static void assertSeeded(PyRandom r, long s0, long s1, long s623, long o1, long o2, long o3) {
        int[] state = r.state();
        assertThat(Integer.toUnsignedLong(state[0])).isEqualTo(s0);
        assertThat(Integer.toUnsignedLong(state[1])).isEqualTo(s1);
        assertThat(Integer.toUnsignedLong(state[623])).isEqualTo(s623);
        assertThat(state[624]).isEqualTo(624);
        assertThat(List.of(r.nextUint32(), r.nextUint32(), r.nextUint32())).containsExactly(o1, o2, o3);
    }

    @Test
    void seedsFromIntsLikeCpython() {
        assertSeeded(new PyRandom(0), 2147483648L, 766982754L, 2902720905L, 3626764237L, 1654615998L, 3255389356L);
        assertSeeded(new PyRandom(1), 2147483648L, 163610392L, 1781494222L, 577090037L, 2444712010L, 3639700191L);
        assertSeeded(new PyRandom(42), 2147483648L, 3564348608L, 3831079317L, 2746317213L, 478163327L, 107420369L);
        // negative seeds use |n|: Random(-42) == Random(42)
        assertSeeded(new PyRandom(-42), 2147483648L, 3564348608L, 3831079317L, 2746317213L, 478163327L, 107420369L);
        assertSeeded(new PyRandom(4294967295L), 2147483648L, 2159790430L, 2300076184L,
                2728839433L, 2661025012L, 872737089L);
        // 2**32 needs a two-word key [0, 1]
        assertSeeded(new PyRandom(4294967296L), 2147483648L, 3247729875L, 2855728268L,
                485306839L, 1508871100L, 1794561286L);
        assertSeeded(new PyRandom(4294967301L), 2147483648L, 3029627165L, 656747425L,
                675479763L, 2085189291L, 1213270837L);
        assertSeeded(new PyRandom(-1099511627776L), 2147483648L, 1183272544L, 813589514L,
                445128065L, 1517081360L, 2880015531L);
    }

    @Test
    void seedsFromBigIntegersLikeCpython() {
        BigInteger twoTo64Plus1 = BigInteger.TWO.pow(64).add(BigInteger.ONE);
        assertSeeded(new PyRandom(twoTo64Plus1), 2147483648L, 3093800140L, 1375882310L,
                437050517L, 3681013637L, 3113036029L);
        BigInteger twoTo100Plus12345 = BigInteger.TWO.pow(100).add(BigInteger.valueOf(12345));
        assertSeeded(new PyRandom(twoTo100Plus12345), 2147483648L, 2571961964L, 2084352136L,
                1910715478L, 278772827L, 1297592944L);
        assertSeeded(new PyRandom(BigInteger.valueOf(42).negate()), 2147483648L, 3564348608L, 3831079317L,
                2746317213L, 478163327L, 107420369L);
    }

    @Test
    void seedsFromStringsLikeCpythonVersion2() {
        assertSeeded(new PyRandom("10:heldout_symbolic_longer"), 2147483648L, 470030826L, 3675644842L,
                3691731242L, 34701744L, 1219425L);
        assertSeeded(new PyRandom("20:symbolic_short"), 2147483648L, 2744434674L, 1689489156L,
                1186595288L, 3595301138L, 2189888217L);
        assertSeeded(new PyRandom(""), 2147483648L, 3998504632L, 1946200131L, 4124137760L, 1951988028L, 2557274880L);
        assertSeeded(new PyRandom("a"), 2147483648L, 2585993709L, 926093090L, 1168357962L, 2173948116L, 289208638L);
        // non-ASCII and astral characters: UTF-8 bytes are hashed
        assertSeeded(new PyRandom("h\u00e9llo\u2713"), 2147483648L, 2395335232L, 816186089L,
                541246243L, 1840462683L, 1890969000L);
        assertSeeded(new PyRandom("\ud83d\ude00x"), 2147483648L, 3660431702L, 1626399770L,
                3447922504L, 3563216322L, 3827167762L);
        assertThatThrownBy(() -> new PyRandom("\ud83d")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void getrandbitsComposesWordsLikeCpython() {
        // r = Random(12345); [r.getrandbits(k) for k in range(0, 101)]
        String expected = "0, 0, 2, 0, 13, 26, 51, 38, 218, 188, 954, 396, 1106, 4636, 7147, 5298, 24449, 16287, "
                + "229159, 226983, 273772, 1178764, 2630729, 1462499, 10263786, 18563019, 12536542, 47634057, "
                + "198145239, 514357113, 786912825, 196052585, 2280811246, 8498194066, 10359973919, 6459353242, "
                + "13521184837, 11677874957, 228449187541, 177560649991, 502612196482, 57292792577, 2246128234018, "
                + "6077287663878, 7308937102666, 231943071440, 46720397572200, 23054829393310, 163289377367615, "
                + "161324034862037, 734693238034112, 238449774742746, 3068813770917003, 1636191749108276, "
                + "6755441259357932, 34593780724993654, 42946204875259297, 131596508211075433, 95085120572641617, "
                + "23203130491516584, 138122631658900326, 1151134226436415661, 3399698891839681838, "
                + "6973321343455020214, 12353966073431331312, 23201087972837585553, 64900061509504554776, "
                + "2395661151836497898, 76814793251904206533, 495563497305418567987, 1128023426102160863437, "
                + "1279276671622424503755, 1810676704472252228646, 461405497688827493296, 8406396682434852060108, "
                + "37564730123532933836862, 13575338410371084999043, 116712765750493829967986, "
                + "65086896924711783731269, 460145038562298748186638, 751769029992367391437306, "
                + "1513813860557320001428241, 3733092054167302951010349, 4070015199404767704960022, "
                + "10634879124234439605864810, 29743684438312534727701630, 9236703472267792479178389, "
                + "12386548684368373989697967, 276216900223042159654293380, 142760815869130049486572192, "
                + "201481503002412803556923027, 1329846019121648318699912903, 3445039998240922707384420469, "
                + "31542311755779673385753216, 17547831550923861934898806730, 24065587469623067948197519283, "
                + "67392375453800477619462741111, 119251629360680139665131120276, 300310648737125180700836277023, "
                + "112243980742294948053852704285, 228056156013360594859506191388";
        PyRandom r = new PyRandom(12345);
        List<String> got = IntStream.rangeClosed(0, 100).mapToObj(k -> r.getrandbits(k).toString()).toList();
        assertThat(String.join(", ", got)).isEqualTo(expected);
        assertThatThrownBy(() -> r.getrandbits(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void randomIsTheFiftyThreeBitFloatOfCpython() {
        // r = Random(42); [repr(r.random()) for _ in range(6)]; repr round-trips, so parsing gives the exact double
        PyRandom r = new PyRandom(42);
        for (String expected : List.of("0.6394267984578837", "0.025010755222666936", "0.27502931836911926",
                "0.22321073814882275", "0.7364712141640124", "0.6766994874229113")) {
            assertThat(r.random()).isEqualTo(Double.parseDouble(expected));
        }
    }

    @Test
    void randbelowRejectsLikeCpython() {
        // r = Random(7); [r._randbelow(n) for n in (1, 2, 3, 5, 7, 10, 31, 32, 33, 1000, 2**31-1, 2**40+3, 2**70+1)]
        PyRandom r = new PyRandom(7);
        List<Integer> small = new ArrayList<>();
        for (int n : new int[] {1, 2, 3, 5, 7, 10, 31, 32, 33, 1000, Integer.MAX_VALUE}) {
            small.add(r.randbelow(n));
        }
        assertThat(small).containsExactly(0, 0, 1, 0, 0, 8, 3, 23, 3, 931, 1089709946);
        assertThat(r.randbelow(BigInteger.TWO.pow(40).add(BigInteger.valueOf(3))))
                .isEqualTo(new BigInteger("82526500300"));
        assertThat(r.randbelow(BigInteger.TWO.pow(70).add(BigInteger.ONE)))
                .isEqualTo(new BigInteger("985676786906360226650"));
        assertThatThrownBy(() -> r.randbelow(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void randrangeChoiceAndSampleMatchCpython() {
        // r = Random(99): randrange(10), (5, 15), (0, 100, 7), (50, 0, -3), (-10, 10), (-2**31, 2**31-1)
        PyRandom r = new PyRandom(99);
        assertThat(List.of(r.randrange(10), r.randrange(5, 15), r.randrange(0, 100, 7), r.randrange(50, 0, -3),
                r.randrange(-10, 10), r.randrange(Integer.MIN_VALUE, Integer.MAX_VALUE)))
                .containsExactly(6, 11, 21, 35, -3, -1080479250);
        assertThatThrownBy(() -> r.randrange(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> r.randrange(3, 3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> r.randrange(0, 10, 0)).isInstanceOf(IllegalArgumentException.class);

        // r = Random(5); [r.choice('abcdefg') for _ in range(8)]
        PyRandom c = new PyRandom(5);
        List<String> letters = List.of("a", "b", "c", "d", "e", "f", "g");
        assertThat(IntStream.range(0, 8).mapToObj(i -> c.choice(letters)).toList())
                .containsExactly("e", "c", "f", "c", "g", "f", "g", "f");

        // r = Random(3); sample(range(30), 10) (pool method), sample(range(1000), 12) (set method),
        // sample(range(100), 5) (set method, k <= 5)
        PyRandom s = new PyRandom(3);
        assertThat(s.sample(range(30), 10)).containsExactly(7, 18, 17, 4, 11, 19, 15, 20, 28, 2);
        assertThat(s.sample(range(1000), 12)).containsExactly(620, 13, 930, 857, 480, 265, 564, 239, 196, 734, 481, 553);
        assertThat(s.sample(range(100), 5)).containsExactly(70, 60, 50, 81, 19);
    }

    private static List<Integer> range(int n) {
        return IntStream.range(0, n).boxed().toList();
    }
}
