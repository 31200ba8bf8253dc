"""Built-in English lexicons for the customer-post classifier.

Every entry is a phrase: one or more words, matched on whole tokens of the normalised text
(lower-case, @mentions and links removed). Inflections are listed explicitly because matching is
exact; that keeps the classifier fast and its behaviour easy to predict. Policy can add phrases
per language (see ``auditor.classify.Lexicons.from_policy``).

The categories, and why each exists:

- ``complaint``: words and events that report something went wrong. One unnegated hit makes a
  post a complaint, even when it also asks a question or uses a positive word (sarcasm).
- ``problem_terms``: nouns like "issue" that name a problem without saying it is unresolved.
  They make a post a complaint only when it asks nothing and reports no good outcome, so "how do
  I fix this error?" stays a question and "thanks, the issue is resolved" stays praise.
- ``praise``: gratitude and approval. Negated ("not happy") they count as complaint evidence.
- ``outcomes``: things a customer expects to be able to do or to get ("log in", "reply",
  "refund"). Negated ("can't log in", "no reply") they are complaint evidence.
- ``resolutions``: outcomes that happened ("arrived", "fixed", "resolved"). Negated ("never
  arrived", "still not fixed") they are complaint evidence; unnegated they show a good outcome.
- ``neutral``: set phrases that contain a sentiment word but carry no verdict ("happy friday",
  "no worries"); the longest phrase wins, so these hide the word inside them.
- ``question``: phrases that ask something even without a question mark.
- ``spam``: phrases that are spam on their own (follow-bait, crypto giveaways).
- ``promo``: promotional words; spam only together with a link, or three or more at once.
- ``abuse``: insults. A placeholder list that policy is expected to extend; slurs are
  deliberately not spelled out in the source.
- ``help_topics``: subjects a help page usually answers (password reset, order tracking...).
- ``negations``: words that negate the phrase that follows within a few tokens.
"""

from __future__ import annotations

COMPLAINT: tuple[str, ...] = (
    # delivery and orders
    "lost", "lost again", "late", "days late", "weeks late", "delayed", "delay", "delays",
    "still waiting", "been waiting", "wrong address", "wrong product", "wrong colour",
    "wrong color", "wrong one", "wrong items", "cancelled without", "canceled without",
    "waiting for weeks", "waiting for days", "still nothing",
    "still no", "missing", "went missing", "wrong item", "wrong order", "wrong size",
    "damaged", "broken", "arrived broken", "smashed", "cancelled my order", "canceled my order",
    "cancelled again", "canceled again", "stolen", "never showed up", "no show",
    # money
    "charged twice", "double charged", "overcharged", "charged me", "scam", "scammed", "rip off",
    "ripoff", "rip-off", "fraud", "stole my money", "want my money back", "give me my money back",
    "refund me", "still no refund", "chargeback", "want a refund", "want my refund",
    "demand a refund", "where is my refund", "where's my refund", "love a refund",
    "like a refund", "like my money back",
    # service
    "on hold", "hours on hold", "no one answers", "nobody answers", "nobody replies",
    "ignored", "ignoring me", "ignoring us", "hung up", "rude", "unhelpful", "useless",
    "incompetent", "pathetic", "joke of a", "a joke", "shambles", "disgrace", "disgraceful",
    # product and app
    "keeps crashing", "crashes", "crashed", "crashing", "down again", "is down", "outage",
    "stopped working", "doesn't work", "does not work", "glitchy", "buggy", "locked out",
    "hacked", "unusable", "laggy", "freezes", "frozen",
    # feelings and verdicts
    "angry", "furious", "livid", "annoyed", "annoying", "frustrated", "frustrating",
    "disappointed", "disappointing", "disappointment", "fed up", "sick of", "tired of",
    "unacceptable", "ridiculous", "outrageous", "terrible", "horrible", "awful", "appalling",
    "atrocious", "worst", "the worst", "dreadful", "poor", "poor service", "bad service",
    "bad", "sucks", "suck", "shocking", "disgusting", "never again", "never buying",
    "waste of", "don't waste", "dont waste", "not waste", "and nothing", "nothing happens",
    "nothing happened", "please fix", "pls fix", "plz fix", "fix it already",
    "never ordering", "worst experience", "waste of time", "waste of money", "complaint",
    "complain", "complaining", "thanks for nothing", "thank you for nothing",
    "what a joke", "not good enough", "not acceptable", "hate", "hate this", "hate your",
    "cancel my subscription", "cancel my account", "switching to", "come on", "still there",
    "still happening", "still broken", "still not", "again and again", "every single time",
    "😡", "🤬", "👎", "😠", "😤",
    "💩", "😞", "😒",
)

PROBLEM_TERMS: tuple[str, ...] = (
    "problem", "problems", "issue", "issues", "error", "errors", "bug", "bugs", "glitch",
    "glitches", "trouble", "fault", "faulty", "defect", "defective", "wrong", "mistake",
    "same problem", "same issue", "error message", "error code",
)

PRAISE: tuple[str, ...] = (
    "thanks", "thank you", "thank u", "thx", "ty", "tysm", "cheers", "many thanks",
    "much appreciated", "appreciate", "appreciate it", "appreciated", "grateful",
    "love", "loved", "love it", "love you", "loving", "great", "awesome", "amazing", "excellent",
    "brilliant", "fantastic", "perfect", "wonderful", "superb", "outstanding", "impressive",
    "impressed", "helpful", "so helpful", "very helpful", "friendly", "kind", "lovely", "nice",
    "good job", "great job", "well done", "good service", "great service", "great support",
    "quick fix", "quick response", "quick reply", "fast response", "fast delivery",
    "fast shipping", "speedy", "quick", "fast", "happy", "pleased", "satisfied", "delighted",
    "best", "the best", "kudos", "shoutout", "shout out", "recommend", "highly recommend",
    "keep it up", "you rock", "guys rock", "you all rock", "rocks", "top notch", "spot on",
    "legend", "legends", "lifesaver", "life saver",
    "no problem", "no problems", "no issues", "no issue", "not bad", "can't complain",
    "cant complain", "no complaints", "couldn't be happier", "could not be happier",
    "never been happier", "can't thank you enough", "cannot thank you enough",
    "couldn't be better", "could not be better", "👍", "❤", "♥", "💯", "🙏", "😍", "🥰", "👏",
    "🎉", "⭐", "💙", "💚", "😊", "🙂",
)

OUTCOMES: tuple[str, ...] = (
    # Expected actions: they only say something when negated ("can't log in", "no reply").
    "arrive", "arrives", "receive", "deliver", "delivery", "ship", "come", "show up",
    "refund", "refunds", "reply", "replies", "respond", "response", "answer", "answers",
    "get back", "update", "updates", "fix", "fixing", "resolve", "work", "works", "working",
    "log in", "login", "log into", "sign in", "signin", "access", "load", "loads", "loading",
    "connect", "pay", "checkout", "track", "help", "helping", "show", "shows", "showing",
    "explanation", "apology", "compensation", "confirmation", "contact",
)

RESOLUTIONS: tuple[str, ...] = (
    # Outcomes that happened: negated they are complaints ("never arrived", "still not fixed"),
    # unnegated they show the problem a post mentions is over ("the issue is resolved").
    "arrived", "received", "got it", "delivered", "shipped", "dispatched", "came", "showed up",
    "refunded", "reimbursed", "replied", "responded", "answered", "heard back", "called back",
    "got back", "fixed", "resolved", "sorted", "sorted out", "solved", "worked", "working now",
    "works now", "working again", "works again", "works perfectly", "helped",
)

NEUTRAL: tuple[str, ...] = (
    "happy monday", "happy tuesday", "happy wednesday", "happy thursday", "happy friday",
    "happy saturday", "happy sunday", "happy weekend", "happy new year", "happy holidays",
    "happy birthday", "happy easter", "merry christmas", "good morning", "good afternoon",
    "good evening", "good night", "no worries", "no rush", "no thanks", "no thank you", "thank god",
    "thanks in advance", "thank you in advance",
    "thanks in advance for", "love to know", "would love to know", "i'd love to know",
)

QUESTION: tuple[str, ...] = (
    "how do i", "how can i", "how to", "how do you", "how long", "how much", "how many",
    "can i", "can you", "could you", "can someone", "could someone", "is there", "are there",
    "is it", "is it possible", "do you", "does it", "does the", "do i", "will it", "will you",
    "would it", "where is", "where can i", "where do i", "when will", "when does", "when do",
    "what is", "what are", "what's", "which one", "who do i", "any update", "any updates",
    "any news", "any idea", "anyone know", "does anyone know", "wondering", "i was wondering",
    "just wondering", "just asking", "quick question", "question", "need help", "help me",
    "please help", "help please", "can anyone help", "need some help", "i'd like to know",
    "i would like to know", "love to know", "please advise", "let me know", "is anyone",
)

SPAM: tuple[str, ...] = (
    "follow me", "follow back", "follow for follow", "f4f", "check my profile",
    "check out my profile", "check my page", "check out my page", "visit my profile",
    "link in bio", "link in my bio", "dm me for", "dm for promo", "dm for collab",
    "crypto giveaway", "bitcoin giveaway", "btc giveaway", "eth giveaway", "free crypto",
    "free bitcoin", "free btc", "free eth", "free followers", "buy followers", "airdrop",
    "double your", "send btc", "send eth", "send 1 btc", "send 0.1 btc",
    "investment opportunity", "guaranteed profit", "guaranteed returns", "passive income",
    "make money from home", "work from home", "earn money", "earn $", "whatsapp me",
    "message me on telegram", "contact me on telegram", "onlyfans", "hot singles", "18+",
)

PROMO: tuple[str, ...] = (
    "free", "giveaway", "win", "winner", "prize", "discount", "promo", "promo code", "coupon",
    "coupon code", "deal", "deals", "offer", "limited offer", "limited time", "buy now",
    "shop now", "order now", "click", "click here", "cheap", "cheapest", "% off", "sale",
    "crypto", "bitcoin", "btc", "eth", "nft", "nfts", "token", "presale", "invest",
    "investment", "profit", "earn", "income", "casino", "bet", "betting", "loan", "subscribe",
    "🚀", "💰", "🔥",
)

ABUSE: tuple[str, ...] = (
    # Placeholder insults directed at people; extend per deployment via policy lexicons.
    "idiot", "idiots", "you idiot", "moron", "morons", "imbecile", "imbeciles", "scumbag",
    "scumbags", "scum", "dumbass", "dumbasses", "piece of shit", "kill yourself", "kys",
    "go die", "die in a fire", "retard", "retards",
)

HELP_TOPICS: tuple[str, ...] = (
    # account and access
    "password", "reset my password", "reset password", "password reset", "forgot my password",
    "forgot password", "change my password", "log in", "login", "log into", "sign in",
    "signin", "two factor", "2fa", "verification code", "account settings",
    "delete my account", "close my account", "change my email", "update my email",
    "change my address", "update my address", "change my username", "username",
    "notifications", "unsubscribe", "cancel my subscription", "subscription",
    # orders and delivery
    "track my order", "tracking", "tracking number", "track my package", "track my parcel",
    "where is my order", "where's my order", "order status", "delivery time", "delivery times",
    "shipping cost", "shipping costs", "shipping to", "ship to", "do you ship",
    "international shipping", "change my order", "cancel my order",
    # money and policy
    "refund policy", "return policy", "returns policy", "how do i return", "return an item",
    "exchange policy", "warranty", "payment methods", "pay with", "paypal", "invoice",
    "receipt", "gift card", "promo code", "discount code", "get a refund",
    "request a refund", "refund policy", "how do i get a refund", "returns",
    # shops
    "opening hours", "opening times", "store hours", "open on", "are you open",
    "when do you open", "when do you close", "what time do you open", "what time do you close",
    "closing time", "store near", "nearest store", "store locator",
)

NEGATIONS: tuple[str, ...] = (
    # Single words only: negation is tested on the tokens just before a phrase.
    "not", "no", "never", "nothing", "nobody", "noone", "none", "neither", "nor",
    "without", "cannot", "unable", "fail", "fails", "failed", "failing",
    "don't", "dont", "doesn't", "doesnt", "didn't", "didnt", "isn't", "isnt", "aren't",
    "arent", "wasn't", "wasnt", "weren't", "werent", "haven't", "havent", "hasn't", "hasnt",
    "hadn't", "hadnt", "won't", "wont", "wouldn't", "wouldnt", "can't", "cant", "couldn't",
    "couldnt", "shouldn't", "shouldnt", "ain't", "aint",
)

ENGLISH: dict[str, tuple[str, ...]] = {
    "complaint": COMPLAINT,
    "problem_terms": PROBLEM_TERMS,
    "praise": PRAISE,
    "outcomes": OUTCOMES,
    "resolutions": RESOLUTIONS,
    "neutral": NEUTRAL,
    "question": QUESTION,
    "spam": SPAM,
    "promo": PROMO,
    "abuse": ABUSE,
    "help_topics": HELP_TOPICS,
    "negations": NEGATIONS,
}

# Function words for the cheap "clearly English" test that lets most posts skip language
# detection. A false hit on the non-English list only costs a detector call, so that list errs
# on the side of including words English rarely uses; the English list avoids words that are
# common in the other languages ("is" and "in" are Dutch and German too, "me" is French...).
_ENGLISH_WORDS = """
    the my you your to and it not this that was with have has for of why what how when where
    can please thanks thank i i'm it's don't can't we they our be are been just still
    again any from will would should could did does at if get got there their them been
    here who which than then because about after before yet hi hello"""
ENGLISH_FUNCTION_WORDS: frozenset[str] = frozenset(_ENGLISH_WORDS.split())
_NON_ENGLISH_WORDS = """
    le les des est une et je nous vous pas mon ma mes pour avec sur dans du au aux ce cette
    qui tres très merci bonjour toujours jamais rien mais ne n'est c'est j'ai il elle la de en
    el los las una uno por para que del muy pero gracias hola mi es esta esto con sin
    todavia nunca nada yo su lo der die das und ist nicht ich ein eine mit auf fur für noch
    mein meine kein keine bitte danke wie sie wir zu den dem aber auch schon di che non sono
    della grazie ciao ho mio mia gli ancora nao não voce você meu minha obrigado obrigada com
    uma um ainda pedido os em het een niet ik van zijn mijn nog wel bedankt dank geen maar ook
    hoe waar"""
NON_ENGLISH_FUNCTION_WORDS: frozenset[str] = frozenset(_NON_ENGLISH_WORDS.split())
