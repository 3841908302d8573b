package demo

// The lists below are in rough order of frequency in the United States;
// a Zipf weight over the rank gives the skew real name data has (many
// Smiths and Marias, few Łukasz Wiśniewskis). A few hundred of each is
// enough for realistic collision rates among a million people: common
// names collide, which is exactly what makes matching hard.

var firstNames = []string{
	"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
	"David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
	"Thomas", "Sarah", "Christopher", "Karen", "Charles", "Lisa", "Daniel", "Nancy",
	"Matthew", "Betty", "Anthony", "Margaret", "Mark", "Sandra", "Donald", "Ashley",
	"Steven", "Kimberly", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle",
	"Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Dorothy", "George", "Melissa",
	"Timothy", "Deborah", "Ronald", "Stephanie", "Edward", "Rebecca", "Jason", "Sharon",
	"Jeffrey", "Laura", "Ryan", "Cynthia", "Jacob", "Kathleen", "Gary", "Amy",
	"Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Anna", "Stephen", "Brenda",
	"Larry", "Pamela", "Justin", "Emma", "Scott", "Nicole", "Brandon", "Helen",
	"Benjamin", "Samantha", "Samuel", "Katherine", "Gregory", "Christine", "Alexander", "Debra",
	"Frank", "Rachel", "Patrick", "Carolyn", "Raymond", "Janet", "Jack", "Catherine",
	"Dennis", "Maria", "Jerry", "Heather", "Tyler", "Diane", "Aaron", "Ruth",
	"José", "Julie", "Adam", "Olivia", "Nathan", "Joyce", "Henry", "Virginia",
	"Douglas", "Victoria", "Zachary", "Kelly", "Peter", "Lauren", "Kyle", "Christina",
	"Ethan", "Joan", "Walter", "Evelyn", "Noah", "Judith", "Jeremy", "Megan",
	"Christian", "Andrea", "Keith", "Cheryl", "Roger", "Hannah", "Terry", "Jacqueline",
	"Gerald", "Martha", "Harold", "Gloria", "Sean", "Teresa", "Austin", "Ann",
	"Carl", "Sara", "Arthur", "Madison", "Lawrence", "Frances", "Dylan", "Kathryn",
	"Jesse", "Janice", "Jordan", "Jean", "Bryan", "Abigail", "Billy", "Alice",
	"Joe", "Julia", "Bruce", "Judy", "Gabriel", "Sophia", "Logan", "Grace",
	"Albert", "Denise", "Willie", "Amber", "Alan", "Doris", "Juan", "Marilyn",
	"Wayne", "Danielle", "Elijah", "Beverly", "Randy", "Isabella", "Roy", "Theresa",
	"Vincent", "Diana", "Ralph", "Natalie", "Eugene", "Brittany", "Russell", "Charlotte",
	"Bobby", "Marie", "Mason", "Kayla", "Philip", "Alexis", "Louis", "Lori",
	"Carlos", "Guadalupe", "Luis", "Ana", "Miguel", "Rosa", "Jorge", "Carmen",
	"Francisco", "Sofía", "Alejandro", "Lucía", "Wei", "Mei", "Minh", "Linh",
	"Hiroshi", "Yuki", "Priya", "Raj", "Fatima", "Omar", "Zoë", "Chloé",
	"Renée", "André", "Łukasz", "Søren", "Björn", "François", "Jürgen", "Małgorzata",
	"Siobhán", "Seán", "Inés", "Ángel", "Theodore", "Eleanor", "Madeline", "Frederick",
}

var lastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
	"Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
	"Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
	"Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
	"Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
	"Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
	"Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker",
	"Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy",
	"Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey",
	"Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson",
	"Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza",
	"Ruiz", "Hughes", "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers",
	"Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins", "Perry", "Russell",
	"Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales", "Fisher",
	"Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham",
	"Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant",
	"Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray",
	"Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez", "McDonald", "Woods",
	"Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb",
	"Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter",
	"Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz",
	"Hunt", "Hicks", "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd",
	"Rose", "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice",
	"Schmidt", "Garza", "Daniels", "Ferguson", "Nichols", "Stephens", "Soto", "Weaver",
	"Ryan", "Gardner", "Payne", "Grant", "Dunn", "Kelley", "Spencer", "Hawkins",
	"Arnold", "Pierce", "Vazquez", "Hansen", "Peters", "Santos", "Hart", "Bradley",
	"Knight", "Elliott", "Cunningham", "Duncan", "Armstrong", "Hudson", "Carroll", "Lane",
	"Riley", "Andrews", "Alvarado", "Ray", "Delgado", "Berry", "Perkins", "Hoffman",
	"O'Brien", "O'Connor", "García", "Martínez", "Hernández", "López", "González", "Pérez",
	"Rodríguez", "Sánchez", "Gómez", "Núñez", "Jiménez", "Müller", "Schröder", "Weiß",
	"Kowalski", "Wiśniewski", "Nowak", "Søndergaard", "Åberg", "Lefèvre", "Dubois", "Wang",
	"Li", "Zhang", "Liu", "Yamamoto", "Tanaka", "Sato", "Pham", "Le",
}

// nicknames maps a formal first name to the short forms people give at a
// till or on a signup form. The reverse (Bob written where Robert was) is
// what name-matching rules must survive.
var nicknames = map[string][]string{
	"Robert": {"Bob", "Rob", "Bobby"}, "William": {"Bill", "Will"}, "Elizabeth": {"Liz", "Beth", "Betty"},
	"Katherine": {"Kate", "Katie"}, "Catherine": {"Cathy", "Kate"}, "Michael": {"Mike"},
	"James": {"Jim", "Jimmy"}, "Richard": {"Rick", "Rich"}, "Jennifer": {"Jen", "Jenny"},
	"Margaret": {"Maggie", "Peggy"}, "Christopher": {"Chris"}, "Daniel": {"Dan", "Danny"},
	"Matthew": {"Matt"}, "Anthony": {"Tony"}, "Joseph": {"Joe"}, "Thomas": {"Tom", "Tommy"},
	"Charles": {"Charlie", "Chuck"}, "Patricia": {"Pat", "Patty"}, "Steven": {"Steve"},
	"Andrew": {"Andy", "Drew"}, "Joshua": {"Josh"}, "Nicholas": {"Nick"}, "Alexander": {"Alex"},
	"Samantha": {"Sam"}, "Samuel": {"Sam"}, "Benjamin": {"Ben"}, "Jonathan": {"Jon"},
	"Edward": {"Ed", "Ted"}, "Timothy": {"Tim"}, "Susan": {"Sue"}, "Deborah": {"Deb"},
	"Rebecca": {"Becky"}, "Victoria": {"Vicky"}, "Abigail": {"Abby"}, "Kimberly": {"Kim"},
	"Jessica": {"Jess"}, "Zachary": {"Zach"}, "Gregory": {"Greg"}, "Kenneth": {"Ken"},
	"Ronald": {"Ron"}, "Donald": {"Don"}, "Raymond": {"Ray"}, "Lawrence": {"Larry"},
	"Gerald": {"Jerry"}, "Francisco": {"Paco"}, "José": {"Pepe"}, "Alejandro": {"Alex"},
	"Guadalupe": {"Lupe"}, "Theodore": {"Ted", "Theo"}, "Frederick": {"Fred"}, "Peter": {"Pete"},
	"Douglas": {"Doug"}, "Dorothy": {"Dot"}, "Jacqueline": {"Jackie"}, "Cynthia": {"Cindy"},
	"Pamela": {"Pam"}, "Christina": {"Tina"}, "Stephanie": {"Steph"}, "Natalie": {"Nat"},
	"Madeline": {"Maddie"}, "Gabriel": {"Gabe"}, "Eleanor": {"Ellie"}, "Isabella": {"Bella"},
	"Olivia": {"Liv"}, "Sophia": {"Sophie"}, "Alice": {"Ally"}, "Judith": {"Judy"},
	"Virginia": {"Ginny"}, "Frances": {"Fran"}, "Kathleen": {"Kathy"}, "Sandra": {"Sandy"},
	"Nathan": {"Nate"}, "Walter": {"Walt"}, "Philip": {"Phil"}, "Louis": {"Lou"},
	"Małgorzata": {"Gosia"}, "Łukasz": {"Łukas"},
}

// city is a place the coffee chain has stores in. The chain is Portland
// based, so Oregon carries most of the weight (cities are in rank order).
type city struct {
	name       string
	zip        int      // a real zip code of the city; neighbours are zip+0..39
	areaCodes  []string // telephone area codes of the city
	storeCode  string
	storeCount int
}

var cities = []city{
	{"Portland", 97201, []string{"503", "971"}, "PDX", 8},
	{"Beaverton", 97005, []string{"503", "971"}, "BVT", 3},
	{"Seattle", 98101, []string{"206"}, "SEA", 5},
	{"Salem", 97301, []string{"503"}, "SLM", 2},
	{"Vancouver", 98660, []string{"360"}, "VAN", 2},
	{"Hillsboro", 97123, []string{"503"}, "HIL", 2},
	{"Eugene", 97401, []string{"541", "458"}, "EUG", 2},
	{"Gresham", 97030, []string{"503"}, "GRE", 1},
	{"Tacoma", 98402, []string{"253"}, "TAC", 2},
	{"Bellevue", 98004, []string{"425"}, "BEL", 2},
	{"San Francisco", 94102, []string{"415", "628"}, "SFO", 3},
	{"Bend", 97701, []string{"541"}, "BND", 1},
	{"Lake Oswego", 97034, []string{"503"}, "LKO", 1},
	{"Spokane", 99201, []string{"509"}, "SPK", 1},
	{"Boise", 83702, []string{"208"}, "BOI", 1},
	{"Oakland", 94607, []string{"510"}, "OAK", 1},
	{"Sacramento", 95814, []string{"916"}, "SAC", 1},
	{"Denver", 80202, []string{"303", "720"}, "DEN", 1},
	{"Corvallis", 97330, []string{"541"}, "COR", 1},
	{"Medford", 97501, []string{"541"}, "MFR", 1},
}

// emailDomains are reserved example domains (RFC 2606 and 6761), weighted
// like a real mix of webmail providers, so that no generated address can
// belong to a real mailbox.
var emailDomains = []string{
	"example.com", "mail.example", "example.net", "inbox.example",
	"example.org", "webmail.example", "post.test", "isp.example",
}

// menu is what the stores sell, with prices in cents.
var menu = []struct {
	item  string
	cents int
}{
	{"Drip coffee", 375}, {"Latte", 495}, {"Decaf latte", 450}, {"Cappuccino", 410},
	{"Espresso", 295}, {"Mocha", 525}, {"Cold brew", 450}, {"Tea", 350},
	{"Chai latte", 475}, {"Americano", 350}, {"Flat white", 460}, {"Croissant", 395},
	{"Muffin", 325}, {"Breakfast sandwich", 695}, {"Coffee beans 1lb", 1495},
	{"Decaf beans 1lb", 1240}, {"Bagel", 295}, {"Hot chocolate", 395},
}

// webEvents are the event names of a browsing session other than sign-in and
// checkout, weighted by rank like real clickstreams (most events are views).
var webEvents = []string{"Product view", "Page view", "Product view", "Search", "Add to cart", "Store locator"}
